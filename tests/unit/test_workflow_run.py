"""A workflow run against stand-in Slurm commands (packages/workflows, module hpc_workflow): what is
submitted and with which dependencies, gates held, the state of every step from one squeue and one sacct,
refusals before anything is submitted, reruns of what failed only. The same against the real cluster:
tests/e2e/test_workflows.py."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest
from hpc_workflow import Workflow, WorkflowError, submit
from hpc_workflow.cli import main as cli
from hpc_workflow.run import Run

DIAMOND = """
name: diamond
defaults: {partition: debug, account: m1000, time: 10}
steps:
  prepare: {notebook: prepare.ipynb, parameters: {alpha: 0.5}}
  left: {notebook: left.ipynb, after: [prepare], cpus: 2}
  right: {command: "python right.py", after: [prepare], memory: 500M}
  check: {gate: true, after: [left, right]}
  report: {notebook: report.ipynb, after: [check], partition: interactive}
"""

# Each stand-in records its argv (and sbatch its script) in calls.jsonl and answers from state.json, which the
# test edits: "queue" (squeue's lines), "accounting" (sacct's lines by job id).
STAND_IN = """#!/usr/bin/env python3
import json, os, sys
here = os.path.dirname(os.path.abspath(__file__))
name = os.path.basename(sys.argv[0])
stdin = sys.stdin.read() if name == "sbatch" else ""
state_file = os.path.join(here, "state.json")
state = json.load(open(state_file))
with open(os.path.join(here, "calls.jsonl"), "a") as calls:
    calls.write(json.dumps([name, sys.argv[1:], stdin]) + "\\n")
if name == "sbatch":
    state["next"] += 1
    json.dump(state, open(state_file, "w"))
    print(state["next"])
elif name == "squeue":
    print("\\n".join(state["queue"]))
elif name == "sacct":
    wanted = next(a for a in sys.argv if a.startswith("--jobs=")).split("=", 1)[1].split(",")
    print("\\n".join(state["accounting"][job] for job in wanted if job in state["accounting"]))
elif name == "sinfo":
    print("debug*\\ninteractive")
elif name == "sacctmgr":
    print("m1000\\nm2000")
"""


@pytest.fixture
def slurm(tmp_path, monkeypatch) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("sbatch", "squeue", "sacct", "scontrol", "scancel", "sinfo", "sacctmgr"):
        script = bin_dir / name
        script.write_text(STAND_IN)
        script.chmod(script.stat().st_mode | stat.S_IXUSR)
    (bin_dir / "state.json").write_text(json.dumps({"next": 100, "queue": [], "accounting": {}}))
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("SCRATCH", str(tmp_path / "scratch"))
    monkeypatch.setenv("USER", "alice")
    return bin_dir


def calls(slurm: Path, name: str | None = None) -> list[list]:
    found = [json.loads(line) for line in (slurm / "calls.jsonl").read_text().splitlines()]
    return [call for call in found if name is None or call[0] == name]


def set_state(slurm: Path, queue: list[str], accounting: dict[str, str]) -> None:
    state = json.loads((slurm / "state.json").read_text())
    state.update(queue=queue, accounting=accounting)
    (slurm / "state.json").write_text(json.dumps(state))


def dependency(argv: list[str]) -> str:
    return next((word.split("=", 1)[1] for word in argv if word.startswith("--dependency=")), "")


def test_a_diamond_is_submitted_dependencies_first_with_a_held_gate(slurm, tmp_path):
    run = submit(Workflow.from_yaml(DIAMOND), source=tmp_path)
    submitted = calls(slurm, "sbatch")
    assert [call[2].splitlines()[1] for call in submitted] == [
        f"#SBATCH --job-name=wf-diamond-{name}" for name in ("prepare", "left", "right", "check", "report")
    ]
    assert run.jobs == {"prepare": ["101"], "left": ["102"], "right": ["103"], "check": ["104"], "report": ["105"]}
    assert [dependency(call[1]) for call in submitted] == ["", "afterok:101", "afterok:101", "afterok:102:103",
                                                           "afterok:104"]  # fmt: skip
    assert all("--kill-on-invalid-dep=yes" in call[1] for call in submitted)  # dependants of a failure are cancelled
    assert ["--hold" in call[1] for call in submitted] == [False, False, False, True, False]
    left, right, gate, report = submitted[1][2], submitted[2][2], submitted[3][2], submitted[4][2]
    assert (
        "#SBATCH --cpus-per-task=2" in left and "#SBATCH --partition=debug" in left and "-m hpc_workflow.step" in left
    )
    assert right.endswith("exec bash -c 'python right.py'\n") and "hpc_workflow.step" not in right  # no Python start
    ran = subprocess.run(["bash", "-s"], input=right.replace("python right.py", "echo ran; exit 3"), text=True,
                         capture_output=True, check=False)  # fmt: skip
    assert (
        ran.returncode == 3 and ran.stdout.startswith("hpc-workflow: step right of diamond on ") and "ran" in ran.stdout
    )
    assert "#SBATCH --time=00:01:00" in gate and "exit 0" in gate
    assert "#SBATCH --partition=interactive" in report and "#SBATCH --account=m1000" in report
    # The run is its folder: loaded back as it was (after the server, the hub, the notebook are gone).
    assert run.path.parent == tmp_path / "scratch/workflows" and (run.path / "steps/left/job.sh").read_text() == left
    again = Run.load(run.path.name)
    assert (again.workflow, again.jobs, again.source) == (run.workflow, run.jobs, run.source)


def test_every_steps_state_costs_one_squeue_and_one_sacct(slurm, tmp_path):
    run = submit(Workflow.from_yaml(DIAMOND), source=tmp_path)
    set_state(slurm,
              ["102|RUNNING|None|c1|0:12", "103|PENDING|Resources||0:00", "104|PENDING|JobHeldUser||0:00",
               "105|PENDING|Dependency||0:00", "999|RUNNING|None|c2|1:00"],
              {"101": "101|COMPLETED|None|c2|00:00:09|0:0"})  # fmt: skip
    before = len(calls(slurm))
    statuses = {s.name: s for s in run.status()}
    assert [call[0] for call in calls(slurm)[before:]] == ["squeue", "sacct"]
    assert calls(slurm, "sacct")[-1][1][3] == "--jobs=101"  # only what the queue no longer lists
    assert (statuses["prepare"].state, statuses["prepare"].node, statuses["prepare"].exit_code) == (
        "COMPLETED",
        "c2",
        "0:0",
    )
    assert (statuses["left"].state, statuses["left"].node) == ("RUNNING", "c1")
    assert statuses["check"].state == "WAITING FOR APPROVAL"
    assert statuses["report"].reason == "Dependency"
    assert run.state() == "RUNNING"


def test_a_failed_step_is_reported_with_its_cell_and_only_it_and_its_dependants_rerun(slurm, tmp_path):
    run = submit(Workflow.from_yaml(DIAMOND), source=tmp_path)
    (run.step_dir("left") / "error.json").write_text(json.dumps({"message": "cell 3 raised ValueError: bad"}))
    set_state(
        slurm,
        [],
        {
            "101": "101|COMPLETED|None|c2|00:00:09|0:0",
            "102": "102|FAILED|None|c1|00:00:05|1:0",
            "103": "103|COMPLETED|None|c2|00:00:04|0:0",
            "104": "104|CANCELLED|DependencyNeverSatisfied|None assigned|00:00:00|0:0",
            "105": "105|CANCELLED|None|None assigned|00:00:00|0:0",
        },
    )  # fmt: skip  (sacct: no reason)
    statuses = {s.name: s for s in run.status()}
    assert statuses["left"].state == "FAILED" and statuses["left"].error == "cell 3 raised ValueError: bad"
    assert statuses["check"].reason == "DependencyNeverSatisfied" and statuses["check"].node == ""
    assert statuses["check"].error == "cancelled: step left failed"  # says which step failed
    assert statuses["report"].error == "cancelled: step check cancelled"
    assert run.state() == "FAILED"
    before = len(calls(slurm, "sbatch"))
    assert run.rerun(failed=True) == {"left": "106", "check": "107", "report": "108"}
    again = calls(slurm, "sbatch")[before:]
    # prepare and right completed: their outputs stand, nothing waits for them
    assert [dependency(call[1]) for call in again] == ["", "afterok:106", "afterok:107"]
    assert run.jobs["left"] == ["102", "106"] and not (run.step_dir("left") / "error.json").exists()


def test_gates_are_approved_by_release_and_rejected_by_cancel(slurm, tmp_path):
    run = submit(Workflow.from_yaml(DIAMOND), source=tmp_path)
    run.approve("check")
    assert calls(slurm, "scontrol")[-1][1] == ["release", "104"]
    run.reject("check")
    assert calls(slurm, "scancel")[-1][1] == ["104"]
    with pytest.raises(WorkflowError, match="step left is not a gate"):
        run.approve("left")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("partition: interactive}", "partition: nosuch}"), "step report: partition 'nosuch' does not exist"),
        (("account: m1000,", "account: m3000,"), "step prepare: account 'm3000' is not one of yours (m1000, m2000)"),
    ],
)
def test_a_partition_or_account_slurm_would_refuse_is_refused_before_anything_is_submitted(
    slurm, tmp_path, change, message
):
    with pytest.raises(WorkflowError) as refused:
        submit(Workflow.from_yaml(DIAMOND.replace(*change)), source=tmp_path)
    assert message in str(refused.value)
    assert calls(slurm, "sbatch") == []


def test_the_cli_runs_one_notebook_with_typed_parameters(slurm, tmp_path, capsys):
    assert cli(["run", str(tmp_path / "analysis.ipynb"), "-p", "alpha", "0.5", "-p", "label", "x",
                "--partition", "debug", "--account", "m1000", "--time", "10"]) == 0  # fmt: skip
    run = Run.load(capsys.readouterr().out.splitlines()[0])
    assert run.workflow.step("analysis").parameters == {"alpha": 0.5, "label": "x"}
    assert "#SBATCH --time=00:10:00" in calls(slurm, "sbatch")[0][2]
    set_state(slurm, [], {"101": "101|FAILED|None|c1|00:00:05|1:0"})
    (run.step_dir("analysis") / "error.json").write_text(json.dumps({"message": "cell 2 raised KeyError: 'x'"}))
    assert cli(["status", str(run.path)]) == 0
    shown = capsys.readouterr().out
    assert "FAILED" in shown and "cell 2 raised KeyError: 'x'" in shown
    assert cli(["wait", str(run.path)]) == 1  # the notebook's failure is the exit status
    assert cli(["status", "no-such-run"]) == 2


def test_the_step_runner_runs_notebook_steps_only(slurm, tmp_path, capsys):
    from hpc_workflow.step import main as step_main

    run = submit(Workflow.from_yaml(DIAMOND), source=tmp_path)
    assert step_main([]) == 2 and "usage" in capsys.readouterr().err
    assert step_main([str(run.path), "right"]) == 2  # a command step: its job script runs bash itself
    assert "not a notebook step" in capsys.readouterr().err
