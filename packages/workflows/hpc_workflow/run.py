"""A workflow run: a folder on the shared filesystem ($SCRATCH/workflows/<run>) plus Slurm's own answers.

    <run>/workflow.yaml        the definition as submitted
    <run>/run.json             where the notebooks are, and each step's job ids (every attempt, oldest first)
    <run>/steps/<step>/        job.sh, slurm-<job>.log, output.ipynb and output.html (notebook steps),
                               error.json (the failing cell), kernel.json (while a notebook step runs)

Nothing of ours stays up: the run survives the user's server, the hub and the notebook that submitted it, and
its state is read back from the folder and from one squeue and one sacct call.
"""

from __future__ import annotations

import datetime
import json
import os
import secrets
import shlex
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from hpc_slurm.states import ACTIVE

from hpc_workflow import slurm
from hpc_workflow.graph import downstream, order
from hpc_workflow.spec import Resources, Step, Workflow, WorkflowError, job_request

GATE_RESOURCES = Resources(cpus=1, memory="100M", time=1)


def runs_root() -> Path:
    """$SCRATCH/workflows, else ~/workflows."""
    base = os.environ.get("SCRATCH") or str(Path.home())
    return Path(base) / "workflows"


@dataclass(frozen=True)
class StepStatus:
    name: str
    kind: str
    job: str  # "" when not submitted
    state: str  # Slurm's, or NOT SUBMITTED, WAITING FOR APPROVAL
    reason: str = ""
    node: str = ""
    elapsed: str = ""
    exit_code: str = ""
    error: str = ""  # a notebook step's failing cell, from error.json

    @property
    def active(self) -> bool:
        return self.state in ACTIVE or self.state == "WAITING FOR APPROVAL"


@dataclass
class Run:
    path: Path
    workflow: Workflow
    source: Path
    jobs: dict[str, list[str]] = field(default_factory=dict)

    # The folder

    @classmethod
    def load(cls, path: str | Path) -> Run:
        folder = Path(path).expanduser()
        if not (folder / "run.json").is_file():
            candidate = runs_root() / str(path)
            if (candidate / "run.json").is_file():
                folder = candidate
            else:
                raise WorkflowError(f"{path}: no workflow run there (no run.json)")
        record = json.loads((folder / "run.json").read_text())
        workflow = Workflow.from_yaml((folder / "workflow.yaml").read_text())
        return cls(folder, workflow, Path(record["source"]), {k: list(v) for k, v in record["jobs"].items()})

    def save(self) -> None:
        record = {"workflow": self.workflow.name, "source": str(self.source), "jobs": self.jobs}
        temporary = self.path / "run.json.new"
        temporary.write_text(json.dumps(record, indent=1) + "\n")
        temporary.replace(self.path / "run.json")

    def step_dir(self, name: str) -> Path:
        return self.path / "steps" / name

    def current(self, name: str) -> str:
        return (self.jobs.get(name) or [""])[-1]

    # Submission

    def job_script(self, step: Step) -> str:
        resources = GATE_RESOURCES.merged_over(self.workflow.defaults) if step.gate else self.workflow.resources(step)
        where = self.step_dir(step.name)
        lines = [
            "#!/bin/bash",
            f"#SBATCH --job-name=wf-{self.workflow.name}-{step.name}",
            f"#SBATCH --output={where}/slurm-%j.log",
            f"#SBATCH --chdir={self.source}",
        ]
        lines += job_request(resources).directives()
        if step.gate:
            lines.append("exit 0  # a gate: released by approve, cancelled (with its dependants) by reject")
        elif step.command is not None:  # bash, as sbatch --wrap would: no Python start-up in every step's job
            banner = f"hpc-workflow: step {step.name} of {self.workflow.name} on"
            lines.append(f'echo {shlex.quote(banner)} "${{SLURMD_NODENAME:-$HOSTNAME}}"')  # no fork
            lines.append(f"exec bash -c {shlex.quote(step.command)}")
        else:
            runner = [sys.executable, "-m", "hpc_workflow.step", str(self.path), step.name]
            lines.append("exec " + " ".join(shlex.quote(part) for part in runner))
        return "\n".join(lines) + "\n"

    def submit(self, names: set[str]) -> dict[str, str]:
        """Submit `names` (and nothing else) in dependency order. A dependency outside `names` that completed is
        satisfied; one still pending or running is waited for; anything else is an error naming it."""
        outside = {dep for name in names for dep in self.workflow.step(name).after if dep not in names}
        known = slurm.states([self.current(dep) for dep in outside if self.current(dep)])
        submitted: dict[str, str] = {}
        for name in order(self.workflow.after):
            if name not in names:
                continue
            step = self.workflow.step(name)
            dependencies = []
            for dep in step.after:
                if dep in names:
                    dependencies.append(submitted[dep])
                    continue
                state = known.get(self.current(dep))
                if state is not None and state.state in ACTIVE:
                    dependencies.append(state.job)
                elif state is None or state.state != "COMPLETED":
                    raise WorkflowError(f"step {name} needs step {dep}, which has not completed: run it too")
            where = self.step_dir(name)
            where.mkdir(parents=True, exist_ok=True)
            (where / "error.json").unlink(missing_ok=True)
            script = self.job_script(step)
            (where / "job.sh").write_text(script)
            submitted[name] = slurm.submit(script, dependencies, hold=step.gate)
            self.jobs.setdefault(name, []).append(submitted[name])
            self.save()  # each job id as soon as Slurm gave it: an interrupted submission loses none
        return submitted

    # State

    def status(self) -> list[StepStatus]:
        """Every step's state: one squeue and one sacct, however many steps."""
        current = {step.name: self.current(step.name) for step in self.workflow.steps}
        known = slurm.states([job for job in current.values() if job])
        out = []
        for step in self.workflow.steps:
            job = current[step.name]
            state = known.get(job)
            if not job:
                out.append(StepStatus(step.name, step.kind, "", "NOT SUBMITTED"))
                continue
            if state is None:
                out.append(StepStatus(step.name, step.kind, job, "UNKNOWN", "Slurm has no record of the job"))
                continue
            name = state.state
            if step.gate and name == "PENDING" and "JobHeldUser" in state.reason:
                name = "WAITING FOR APPROVAL"
            error = ""
            error_file = self.step_dir(step.name) / "error.json"
            if name not in ACTIVE and error_file.is_file():
                error = json.loads(error_file.read_text()).get("message", "")
            out.append(StepStatus(step.name, step.kind, job, name, state.reason, state.node, state.elapsed,
                                  state.exit_code, error))  # fmt: skip
        return self._why_cancelled(out)

    def _why_cancelled(self, statuses: list[StepStatus]) -> list[StepStatus]:
        """A cancelled step whose dependency did not complete says which one (the first): Slurm cancelled it for
        that (--kill-on-invalid-dep). sacct records no reason for it, so the reason is not asked."""
        by_name = {s.name: s for s in statuses}
        for position, status in enumerate(statuses):
            if status.state == "CANCELLED" and not status.error:
                failed = [dep for dep in self.workflow.step(status.name).after if by_name[dep].state != "COMPLETED"]
                if failed:
                    cause = by_name[failed[0]]
                    why = f"cancelled: step {cause.name} {cause.state.lower()}"
                    statuses[position] = replace(status, error=why)
        return statuses

    def state(self, statuses: list[StepStatus] | None = None) -> str:
        statuses = statuses if statuses is not None else self.status()
        if any(s.active for s in statuses):
            return "RUNNING"
        if all(s.state == "COMPLETED" for s in statuses):
            return "COMPLETED"
        return "FAILED"

    # Actions

    def approve(self, name: str) -> None:
        """Release the gate: it ends at once, and its dependants start."""
        slurm.release(self._gate(name))

    def reject(self, name: str) -> None:
        """Cancel the gate: its dependants are cancelled by Slurm (their dependency can never be satisfied)."""
        slurm.cancel([self._gate(name)])

    def _gate(self, name: str) -> str:
        if not self.workflow.step(name).gate:
            raise WorkflowError(f"step {name} is not a gate")
        job = self.current(name)
        if not job:
            raise WorkflowError(f"gate {name} was not submitted")
        return job

    def cancel(self, names: set[str] | None = None) -> list[str]:
        """Cancel the steps' current jobs that are still pending or running (all steps by default)."""
        chosen = names if names is not None else {step.name for step in self.workflow.steps}
        jobs = [s.job for s in self.status() if s.name in chosen and s.active]
        slurm.cancel(jobs)
        return jobs

    def rerun(self, failed: bool = False, names: set[str] | None = None) -> dict[str, str]:
        """Submit again: the named steps, or (failed) every step that did not complete, and all that depends on
        them. Steps that completed keep their outputs and are not run again."""
        if failed:
            statuses = self.status()
            active = [s.name for s in statuses if s.active]
            if active:
                raise WorkflowError(f"steps still pending or running: {', '.join(active)}; wait or cancel them")
            chosen = {s.name for s in statuses if s.state != "COMPLETED"}
        else:
            chosen = set(names or ())
            for name in chosen:
                self.workflow.step(name)  # an unknown name is an error
        if not chosen:
            return {}
        return self.submit(downstream(self.workflow.after, chosen))

    def kernel(self, name: str, timeout_s: float = 30) -> Any:
        """A client (jupyter_client's BlockingKernelClient) of the kernel of a notebook step while it runs, its
        channels started. `jupyter console --existing <run>/steps/<step>/kernel.json` attaches a console."""
        from jupyter_client import BlockingKernelClient

        connection = self.step_dir(name) / "kernel.json"
        if not connection.is_file():
            raise WorkflowError(f"step {name} has no running kernel (it runs no notebook now)")
        client = BlockingKernelClient(connection_file=str(connection))
        client.load_connection_file()
        client.start_channels()
        return client

    def evaluate(self, name: str, expression: str, timeout_s: float = 120) -> str:
        """repr() of `expression` in the running notebook step's kernel: its variables as the step has them now.
        Asked in a subshell of the kernel (ipykernel 7, kernel subshells), so a cell that is still running does
        not hold the answer back; a kernel without subshells answers between two cells."""
        client = self.kernel(name)
        try:
            # The control channel answers while a cell runs; a kernel without subshells (before ipykernel 7) does
            # not list them among its features.
            info = request(client, "control", "kernel_info_request", {}, timeout_s)
            subshell = None
            if "kernel subshells" in info.get("supported_features", []):
                subshell = request(client, "control", "create_subshell_request", {}, timeout_s).get("subshell_id")
            content = {"code": "", "silent": True, "store_history": False, "user_expressions": {"value": expression},
                       "allow_stdin": False, "stop_on_error": False}  # fmt: skip
            reply = request(client, "shell", "execute_request", content, timeout_s, subshell)
            if subshell:
                request(client, "control", "delete_subshell_request", {"subshell_id": subshell}, timeout_s)
        finally:
            client.stop_channels()
        value = reply.get("user_expressions", {}).get("value", {})
        if value.get("status") != "ok":
            raise WorkflowError(f"step {name}: {value.get('ename', 'error')}: {value.get('evalue', '')}")
        return str(value["data"]["text/plain"])

    def log_tail(self, name: str, lines: int = 20) -> str:
        job = self.current(name)
        log = self.step_dir(name) / f"slurm-{job}.log"
        if not job or not log.is_file():
            return ""
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def check_with_slurm(workflow: Workflow, names: set[str]) -> None:
    """Refuse, before anything is submitted, a partition that does not exist or an account the user lacks."""
    partitions, accounts = slurm.partitions(), slurm.accounts()
    for name in order(workflow.after):
        if name not in names:
            continue
        resources = workflow.resources(workflow.step(name))
        if resources.partition is not None and resources.partition not in partitions:
            known = ", ".join(sorted(partitions))
            raise WorkflowError(f"step {name}: partition {resources.partition!r} does not exist (there are: {known})")
        if resources.account is not None and resources.account not in accounts:
            yours = ", ".join(sorted(accounts)) or "none"
            raise WorkflowError(f"step {name}: account {resources.account!r} is not one of yours ({yours})")


def submit(workflow: Workflow, source: str | Path = ".", steps: set[str] | None = None,
           root: Path | None = None) -> Run:  # fmt: skip
    """Submit the workflow (or `steps` and what depends on them) as Slurm jobs; the new run."""
    names = downstream(workflow.after, steps) if steps else {step.name for step in workflow.steps}
    for name in names:
        workflow.step(name)
    check_with_slurm(workflow, names)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    folder = (root or runs_root()) / f"{workflow.name}-{stamp}-{secrets.token_hex(2)}"
    folder.mkdir(parents=True, mode=0o700)
    (folder / "workflow.yaml").write_text(workflow.to_yaml())
    run = Run(folder, workflow, Path(source).expanduser().resolve())
    run.save()
    run.submit(names)
    return run


def as_dict(status: StepStatus) -> dict[str, Any]:
    return {key: getattr(status, key) for key in status.__dataclass_fields__}


def request(client: Any, channel: str, kind: str, content: dict[str, Any], timeout_s: float,
            subshell: str | None = None) -> dict[str, Any]:  # fmt: skip
    """Send one request on the kernel's `channel` (shell or control) and return its reply's content."""
    import queue
    import time

    message = client.session.msg(kind, content)
    if subshell:
        message["header"]["subshell_id"] = subshell
    getattr(client, f"{channel}_channel").send(message)
    ends = time.monotonic() + timeout_s
    while True:
        left = ends - time.monotonic()
        if left <= 0:
            raise WorkflowError(f"the step's kernel did not answer {kind} within {timeout_s:.0f} s")
        try:
            reply = getattr(client, f"get_{channel}_msg")(timeout=left)
        except queue.Empty:  # jupyter_client's way of saying: nothing came in time
            raise WorkflowError(f"the step's kernel did not answer {kind} within {timeout_s:.0f} s") from None
        if reply["parent_header"].get("msg_id") == message["header"]["msg_id"]:
            return dict(reply["content"])
