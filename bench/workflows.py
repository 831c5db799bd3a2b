"""Workflows on Slurm (issue 17), side by side with plain Slurm, from the user's login shell on the login node.

- per-step overhead: a chain of 10 trivial steps through `hpc-workflow` against the same 10 commands as a plain
  `sbatch --dependency=afterok` chain; both timed by Slurm's own clock (first job's Submit to last job's End in
  sacct), so how either side waits does not count;
- a notebook step against the same code as a Python script batch job: each job's run time (sacct Elapsed is
  whole seconds: the step's own log gives the split: kernel start, cells, HTML);
- a 100-step DAG: the time `submit` takes (checks, 100 sbatch calls), and one status refresh of it.
Rounds interleave the two of each pair.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable
from typing import Any

from tests.support.docker import on

USER, ACCOUNT = "bob", "m1000"
WORK = f"/global/homes/{USER}/.bench-workflows"
DEFAULTS = f"{{partition: debug, account: {ACCOUNT}, time: 5, memory: 100M}}"

CHAIN = (
    "name: chain10\ndefaults: "
    + DEFAULTS
    + "\nsteps:\n"
    + "".join(f"  s{i}: {{command: 'true'" + (f", after: [s{i - 1}]" if i else "") + "}\n" for i in range(10))
)
DAG100 = (
    "name: dag100\ndefaults: "
    + DEFAULTS
    + "\nsteps:\n"
    + "".join(f"  s{i}: {{command: 'true'" + (f", after: [s{(i - 1) // 2}]" if i else "") + "}\n" for i in range(100))
)  # a binary tree: 100 steps, 99 dependencies
NOTEBOOK = json.dumps({
    "cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
               "source": "total = sum(range(1000))\nprint(total)"}],
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    "nbformat": 4, "nbformat_minor": 5,
})  # fmt: skip
SCRIPT = "total = sum(range(1000))\nprint(total)\n"
PLAIN_CHAIN = f"""
prev=""
for i in $(seq 0 9); do
  dep=${{prev:+--dependency=afterok:$prev}}
  prev=$(sbatch --parsable --kill-on-invalid-dep=yes --partition=debug --account={ACCOUNT} --time=5 --mem=100M \\
         --job-name=plain-chain --output=/dev/null $dep --wrap true)
  first=${{first:-$prev}}
done
echo "$first $prev"
"""
# Slurm's clock: seconds from the first job's submission to the last one's end, once it ended.
SPAN = """
while squeue --noheader --jobs=$2 2>/dev/null | grep -q .; do sleep 0.5; done
sleep 1
s=$(sacct --noheader --parsable2 -X --jobs=$1 --format=Submit | head -1)
e=$(sacct --noheader --parsable2 -X --jobs=$2 --format=End | head -1)
echo $(( $(date -d "$e" +%s) - $(date -d "$s" +%s) ))
"""


def shell(command: str, stdin: str | None = None) -> str:
    done = on("login", f"mkdir -p {WORK} && cd {WORK} && {command}", user=USER, stdin=stdin, login=True)
    if done.returncode != 0:
        raise RuntimeError(f"{command!r} failed: {done.stdout[-500:]} {done.stderr[-1000:]}")
    return done.stdout


def put(name: str, text: str) -> None:
    shell(f"cat > {name}", stdin=text)


def span(first: str, last: str) -> float:
    return float(shell(f"bash -s {first} {last}", stdin=SPAN).split()[-1])


def workflow_chain() -> float:
    run = shell("hpc-workflow submit chain10.yaml").splitlines()[0]
    jobs = json.loads(shell(f"cat {run}/run.json"))["jobs"]
    return span(jobs["s0"][-1], jobs["s9"][-1])


def plain_chain() -> float:
    first, last = shell("bash -s", stdin=PLAIN_CHAIN).split()
    return span(first, last)


PYTHON_SNIPPET = """
import time, sys
sys.argv = ["hpc-workflow"]
from hpc_workflow import Workflow, submit
from hpc_workflow.run import Run
workflow = Workflow.from_yaml(open("dag100.yaml").read())
started = time.monotonic(); run = submit(workflow); submitted = time.monotonic() - started
started = time.monotonic(); run.status(); refreshed = time.monotonic() - started
run.cancel()
print(submitted, refreshed)
"""


def elapsed(job: str) -> float:
    shell(f"while squeue --noheader --jobs={job} 2>/dev/null | grep -q .; do sleep 0.5; done; sleep 1")
    text = shell(f"sacct --noheader --parsable2 -X --jobs={job} --format=ElapsedRaw").split()[0]
    return float(text)


def notebook_step() -> float:
    run = shell(f"hpc-workflow run one.ipynb --partition debug --account {ACCOUNT} --time 5").splitlines()[0]
    return elapsed(json.loads(shell(f"cat {run}/run.json"))["jobs"]["one"][-1])


def script_job() -> float:
    job = shell(f"sbatch --parsable --partition=debug --account={ACCOUNT} --time=5 --output=/dev/null "
                f"--wrap 'python3 one.py'").strip()  # fmt: skip
    return elapsed(job)


def measure(rounds: int, say: Callable[[str], None]) -> dict[str, Any]:
    shell(f"rm -rf {WORK} && mkdir -p {WORK}")
    put("chain10.yaml", CHAIN)
    put("dag100.yaml", DAG100)
    put("one.ipynb", NOTEBOOK)
    put("one.py", SCRIPT)
    keys = ("chain_workflow_s", "chain_plain_s", "notebook_step_s", "script_job_s", "dag100_submit_s",
            "dag100_status_s")  # fmt: skip
    samples: dict[str, list[float]] = {key: [] for key in keys}
    for i in range(rounds):
        say(f"   round {i + 1}/{rounds}")
        samples["chain_workflow_s"].append(workflow_chain())
        samples["chain_plain_s"].append(plain_chain())
        samples["notebook_step_s"].append(notebook_step())
        samples["script_job_s"].append(script_job())
        submitted, refreshed = (float(v) for v in shell("python3 -", stdin=PYTHON_SNIPPET).split()[-2:])
        samples["dag100_submit_s"].append(submitted)
        samples["dag100_status_s"].append(refreshed)
    medians = {key: statistics.median(values) for key, values in samples.items()}
    return {
        "samples": samples,
        "medians": medians,
        "ratios": {
            "chain workflow / plain": medians["chain_workflow_s"] / max(medians["chain_plain_s"], 1e-9),
            "notebook step / script job": medians["notebook_step_s"] / max(medians["script_job_s"], 1e-9),
        },
    }
