"""The Slurm commands a workflow uses, each one call: sbatch per step at submission, then one squeue and one
sacct for the state of every step however many there are, scontrol to release a gate, scancel. The user's
own partitions and accounts are read once before submitting (sinfo, sacctmgr)."""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass

from hpc_slurm import SlurmError, run
from hpc_slurm.states import base_state

__all__ = ["SlurmError", "accounts", "cancel", "partitions", "release", "states", "submit"]


def slurm(name: str, *args: str, stdin: str | None = None) -> str:
    """The command's output (hpc_slurm's runner and timeouts); a SlurmError with Slurm's reason."""
    return run([name, *args], stdin=stdin)


def submit(script: str, dependencies: list[str], hold: bool = False) -> str:
    """sbatch the script (on stdin); the job id. Dependants of a failed or cancelled dependency are cancelled by
    Slurm (--kill-on-invalid-dep), not left pending for ever."""
    args = ["--parsable", "--kill-on-invalid-dep=yes"]
    if dependencies:
        args.append("--dependency=afterok:" + ":".join(dependencies))
    if hold:
        args.append("--hold")
    return slurm("sbatch", *args, stdin=script).strip().split(";")[0]


def release(job: str) -> None:
    slurm("scontrol", "release", job)


def cancel(jobs: list[str]) -> None:
    if jobs:
        slurm("scancel", *jobs)


@dataclass(frozen=True)
class JobState:
    job: str
    state: str  # PENDING, RUNNING, COMPLETED, FAILED, CANCELLED, TIMEOUT, OUT_OF_MEMORY, NODE_FAIL...
    reason: str = ""  # squeue's reason of a pending job (Dependency, JobHeldUser...), sacct's of an ended one
    node: str = ""
    elapsed: str = ""
    exit_code: str = ""  # sacct's ExitCode, code:signal


def user() -> str:
    return os.environ.get("USER") or getpass.getuser()


def states(jobs: list[str]) -> dict[str, JobState]:
    """The state of each job: one squeue (the user's queue: jobs still known to the controller), then one sacct for
    the others (ended; the accounting record)."""
    found: dict[str, JobState] = {}
    if not jobs:
        return found
    wanted = set(jobs)
    queue = slurm("squeue", "--noheader", f"--user={user()}", "--format=%i|%T|%r|%N|%M")
    for line in queue.splitlines():
        job, state, reason, node, elapsed = (line.split("|") + [""] * 5)[:5]
        # A completing job's exit code is known: accounting's record says it (COMPLETED, FAILED...).
        if job in wanted and state not in ("COMPLETED", "COMPLETING"):
            found[job] = JobState(job, state, reason if reason != "None" else "", node, elapsed)
    rest = [job for job in jobs if job not in found]
    if rest:
        record = slurm("sacct", "--noheader", "--parsable2", "--allocations", f"--jobs={','.join(rest)}",
                       "--format=JobIDRaw,State,Reason,NodeList,Elapsed,ExitCode")  # fmt: skip
        for line in record.splitlines():
            job, state, reason, node, elapsed, exit_code = (line.split("|") + [""] * 6)[:6]
            if job in wanted:
                found[job] = JobState(job, base_state(state), reason if reason != "None" else "",
                                      node if node != "None assigned" else "", elapsed, exit_code)  # fmt: skip
    return found


def partitions() -> set[str]:
    return {name.rstrip("*") for name in slurm("sinfo", "--noheader", "--format=%R").split()}


def accounts() -> set[str]:
    listed = slurm("sacctmgr", "--noheader", "--parsable2", "show", "associations", f"user={user()}", "format=account")
    return {line.strip() for line in listed.splitlines() if line.strip()}
