"""A notebook step inside its Slurm job: `python -m hpc_workflow.step RUN STEP`.

A notebook step runs with papermill (its parameters injected), in a kernel whose connection file is
<run>/steps/<step>/kernel.json while it runs, listening on the node's address so that the user's server can
attach to it (`Run.kernel(step)`); the executed notebook and its HTML rendering land next to it. A failing cell
is named in the job's log and in error.json, and the job fails. (A command step's job script runs bash itself:
`Run.job_script`.)
"""

from __future__ import annotations

import json
import socket
import sys
import time

from hpc_workflow.run import Run


def node_address() -> str:
    """The node's address on the cluster network (what the user's server reaches it at)."""
    try:
        return socket.gethostbyname(socket.gethostname())
    except OSError:
        return "127.0.0.1"


def run_notebook(run: Run, name: str) -> int:
    import nbformat
    import papermill
    from jupyter_client.manager import KernelManager
    from nbconvert import HTMLExporter
    from papermill.exceptions import PapermillExecutionError

    step = run.workflow.step(name)
    assert step.notebook is not None
    where = run.step_dir(name)
    output = where / "output.ipynb"
    connection = where / "kernel.json"
    kernel = KernelManager(kernel_name="python3", connection_file=str(connection), ip=node_address())
    code = 0
    started = time.monotonic()
    try:
        papermill.execute_notebook(str(run.source / step.notebook), str(output), parameters=dict(step.parameters),
                                   kernel_name="python3", log_output=True, progress_bar=False,
                                   cwd=str(run.source), km=kernel)  # fmt: skip
    except PapermillExecutionError as failed:
        cell = failed.exec_count if failed.exec_count is not None else failed.cell_index + 1
        message = f"cell {cell} raised {failed.ename}: {failed.evalue}"
        (where / "error.json").write_text(json.dumps({"cell": cell, "ename": failed.ename, "evalue": failed.evalue,
                                                      "message": message}) + "\n")  # fmt: skip
        print(f"hpc-workflow: step {name} failed: {message}", file=sys.stderr, flush=True)
        code = 1
    finally:
        connection.unlink(missing_ok=True)
    ran = time.monotonic() - started
    if output.is_file():
        html, _ = HTMLExporter().from_notebook_node(nbformat.read(output, as_version=4))
        (where / "output.html").write_text(html)
    rendered = time.monotonic() - started - ran
    print(f"hpc-workflow: step {name}: kernel start and cells {ran:.2f} s, HTML {rendered:.2f} s", flush=True)
    return code


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m hpc_workflow.step RUN STEP", file=sys.stderr)
        return 2
    run = Run.load(argv[0])
    step = run.workflow.step(argv[1])
    if not step.notebook:
        print(f"hpc-workflow: step {step.name} is not a notebook step (its job script runs it)", file=sys.stderr)
        return 2
    print(f"hpc-workflow: step {step.name} of {run.workflow.name} on {socket.gethostname()}", flush=True)
    return run_notebook(run, step.name)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
