"""hpc-workflow: headless notebooks and workflows on Slurm, from a shell.

    hpc-workflow run analysis.ipynb -p alpha 0.5 --partition debug --account m1000 --time 10 --wait
    hpc-workflow submit workflow.yaml [--steps a,b]
    hpc-workflow status RUN            one squeue and one sacct, whatever the number of steps
    hpc-workflow wait RUN              until no step is pending or running; exit 0 if all completed
    hpc-workflow approve RUN GATE | reject RUN GATE
    hpc-workflow rerun RUN --failed | rerun RUN STEP...
    hpc-workflow cancel RUN [STEP...]
    hpc-workflow log RUN STEP
    hpc-workflow list

RUN is a run's folder, or its name under $SCRATCH/workflows.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import yaml

from hpc_workflow import run as runs
from hpc_workflow.slurm import SlurmError
from hpc_workflow.spec import Resources, Step, Workflow, WorkflowError

POLL_S = 2.0


def status_table(statuses: list[runs.StepStatus]) -> str:
    header = ("STEP", "KIND", "JOB", "STATE", "NODE", "ELAPSED", "EXIT", "DETAIL")
    rows = [(s.name, s.kind, s.job, s.state, s.node, s.elapsed, s.exit_code,
             s.error or (s.reason if s.state not in ("RUNNING", "COMPLETED") else "")) for s in statuses]  # fmt: skip
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    return "\n".join("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
                     for row in [header, *rows])  # fmt: skip


def parameter(value: str) -> object:
    """A -p value typed as YAML reads it (0.5 is a float, true a bool, [1, 2] a list), as papermill's CLI does."""
    try:
        return yaml.safe_load(value)
    except yaml.YAMLError:
        return value


def wait(run: runs.Run, timeout_s: float | None) -> int:
    ends = None if timeout_s is None else time.monotonic() + timeout_s
    while True:
        statuses = run.status()
        state = run.state(statuses)
        if state != "RUNNING":
            print(status_table(statuses))
            print(f"{run.workflow.name}: {state} ({run.path})")
            return 0 if state == "COMPLETED" else 1
        if ends is not None and time.monotonic() > ends:
            print(status_table(statuses))
            print(f"{run.workflow.name}: still running after {timeout_s:.0f} s ({run.path})")
            return 3
        time.sleep(POLL_S)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="hpc-workflow", description=__doc__.splitlines()[0])
    commands = top.add_subparsers(dest="command", required=True)

    one = commands.add_parser("run", help="run one notebook as a Slurm batch job (papermill inside the job)")
    one.add_argument("notebook")
    one.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    for option in ("partition", "account", "memory"):
        one.add_argument(f"--{option}")
    for option in ("time", "cpus"):
        one.add_argument(f"--{option}", type=int)
    one.add_argument("--wait", action="store_true", help="wait for the end; exit status as the notebook's")

    many = commands.add_parser("submit", help="submit a workflow (YAML) as Slurm jobs")
    many.add_argument("file")
    many.add_argument("--steps", help="only these steps (comma-separated) and what depends on them")
    many.add_argument("--source", help="where the notebooks and commands are (default: the YAML's folder)")
    many.add_argument("--wait", action="store_true")

    for name, text in (("status", "each step's state"), ("wait", "wait until no step is pending or running")):
        command = commands.add_parser(name, help=text)
        command.add_argument("run")
        if name == "status":
            command.add_argument("--json", action="store_true")
        else:
            command.add_argument("--timeout", type=float)
    for name in ("approve", "reject"):
        command = commands.add_parser(name, help=f"{name} a gate")
        command.add_argument("run")
        command.add_argument("gate")
    again = commands.add_parser("rerun", help="run steps again, with what depends on them")
    again.add_argument("run")
    again.add_argument("steps", nargs="*")
    again.add_argument("--failed", action="store_true", help="every step that did not complete")
    stop = commands.add_parser("cancel", help="cancel pending and running steps")
    stop.add_argument("run")
    stop.add_argument("steps", nargs="*")
    log = commands.add_parser("log", help="the end of a step's job log")
    log.add_argument("run")
    log.add_argument("step")
    log.add_argument("-n", "--lines", type=int, default=40)
    commands.add_parser("list", help="the runs under $SCRATCH/workflows")
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return dispatch(args)
    except (WorkflowError, SlurmError) as error:
        print(f"hpc-workflow: {error}", file=sys.stderr)
        return 2


def dispatch(args: argparse.Namespace) -> int:
    if args.command == "run":
        notebook = Path(args.notebook)
        resources = Resources(args.partition, args.account, args.cpus, args.memory, args.time)
        parameters = {name: parameter(value) for name, value in args.parameter}
        name = notebook.stem.replace(".", "_") or "notebook"
        step = Step(name, notebook=notebook.name, parameters=parameters, resources=resources)
        new = runs.submit(Workflow(step.name, (step,)), source=notebook.parent or ".")
        print(f"{new.path}\nsubmitted: {step.name} as job {new.current(step.name)}")
        return wait(new, None) if args.wait else 0
    if args.command == "submit":
        file = Path(args.file)
        workflow = Workflow.from_yaml(file.read_text())
        chosen = set(args.steps.split(",")) if args.steps else None
        new = runs.submit(workflow, source=args.source or file.parent, steps=chosen)
        print(new.path)
        for name in new.jobs:
            print(f"submitted: {name} as job {new.current(name)}")
        return wait(new, None) if args.wait else 0
    if args.command == "list":
        root = runs.runs_root()
        for folder in sorted(root.glob("*/run.json")) if root.is_dir() else []:
            print(folder.parent.name)
        return 0
    run = runs.Run.load(args.run)
    if args.command == "status":
        statuses = run.status()
        if args.json:
            print(json.dumps({"run": str(run.path), "state": run.state(statuses),
                              "steps": [runs.as_dict(s) for s in statuses]}, indent=1))  # fmt: skip
        else:
            print(status_table(statuses))
            print(f"{run.workflow.name}: {run.state(statuses)} ({run.path})")
        return 0
    if args.command == "wait":
        return wait(run, args.timeout)
    if args.command == "approve":
        run.approve(args.gate)
        print(f"approved: {args.gate}")
        return 0
    if args.command == "reject":
        run.reject(args.gate)
        print(f"rejected: {args.gate} (its dependants are cancelled)")
        return 0
    if args.command == "rerun":
        if not args.failed and not args.steps:
            raise WorkflowError("rerun: name steps, or --failed")
        for name, job in run.rerun(failed=args.failed, names=set(args.steps)).items():
            print(f"submitted: {name} as job {job}")
        return 0
    if args.command == "cancel":
        cancelled = run.cancel(set(args.steps) if args.steps else None)
        print(f"cancelled: {' '.join(cancelled) or 'nothing (no step pending or running)'}")
        return 0
    if args.command == "log":
        print(run.log_tail(args.step, args.lines))
        return 0
    raise AssertionError(args.command)


if __name__ == "__main__":
    sys.exit(main())
