"""A kernel's Slurm job: its size, its sbatch arguments, its connection file, and what Slurm says of it.

Nothing here imports jupyter_client: the provisioner (provisioner.py) is the thin part that talks to it.
"""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from hpc_slurm import DurationError, SlurmError, arun, contract, parse_memory_mb
from hpc_slurm.jobs import SLURM_NAME, JobRequest
from hpc_slurm.states import ANSWERING

# How the notebook's user is told why a kernel's job ended (sacct and squeue's state names).
ENDINGS = {
    "TIMEOUT": "reached its time limit",
    "CANCELLED": "was cancelled (scancel, the end of its server's job, or an administrator)",
    "NODE_FAIL": "lost its node",
    "OUT_OF_MEMORY": "ran out of memory (the kernel's memory limit)",
    "FAILED": "failed",
    "COMPLETED": "ended",
    "PREEMPTED": "was preempted",
    "BOOT_FAIL": "could not start its node",
    "DEADLINE": "passed its deadline",
}
# squeue's reasons of a pending job that waiting will not clear: the job asks for more than its project, QoS or
# partition allows any one job.
NEVER_RUNS = frozenset({"PartitionConfig", "PartitionNodeLimit", "PartitionTimeLimit", "InvalidAccount", "InvalidQOS",
                        "BadConstraints", "AccountNotAllowed", "QOSNotAllowed"})  # fmt: skip


def never_runs(reason: str) -> bool:
    return reason in NEVER_RUNS or "PerJob" in reason  # AssocMaxGRESPerJob, QOSMaxWallDurationPerJobLimit...


class KernelJobError(RuntimeError):
    """Slurm refused or ended a kernel's job: the message is for the notebook's user."""


@dataclass(frozen=True)
class KernelJobSize:
    """What a kernel spec asks of Slurm (its provisioner's config, written by the notebook_env role)."""

    partition: str = ""
    cpus: int = 1
    memory: str = ""  # sbatch's --mem (per node): 2048M, 4G; "" leaves it to the partition's default
    time_minutes: int = 30
    gpus: int = 0
    account: str = ""  # "" charges the server's own project (HPCHUB_JOB_ACCOUNT), else the user's default
    qos: str = ""

    def request(self, environ: Mapping[str, str]) -> JobRequest:
        """The kernel's job as Slurm gets it: charged to the server's project unless the spec names one, and
        tagged with the server's wckey (the node Epilog cancels it when the server's job ends)."""
        try:
            memory = parse_memory_mb(self.memory) if self.memory else None
        except DurationError:
            raise KernelJobError(f"this kernel spec cannot be submitted: memory {self.memory!r} is not a size "
                                 "such as 2048M or 4G") from None  # fmt: skip
        account = self.account or environ.get(contract.ENV_JOB_ACCOUNT, "")
        wckey = environ.get(contract.ENV_CLUSTER_WCKEY, "")
        return JobRequest(partition=self.partition, account=account if SLURM_NAME.match(account) else "",
                          qos=self.qos, cpus=self.cpus, memory_mb=memory, time_minutes=self.time_minutes,
                          gpus=self.gpus, wckey=wckey if SLURM_NAME.match(wckey) else "")  # fmt: skip

    def problems(self) -> list[str]:
        """What is wrong with these values, in words (empty when they can be submitted)."""
        try:
            return JobRequest(partition=self.partition, account=self.account, qos=self.qos, cpus=self.cpus,
                              time_minutes=self.time_minutes, gpus=self.gpus,
                              memory_mb=parse_memory_mb(self.memory) if self.memory else None).problems()  # fmt: skip
        except DurationError:
            return [f"memory {self.memory!r} is not a size such as 2048M or 4G"]

    def describe(self) -> str:
        """'debug, 1 CPU, 30 min' for messages."""
        parts = [self.partition or "default partition", f"{self.cpus} CPU" + ("s" if self.cpus != 1 else "")]
        if self.gpus:
            parts.append(f"{self.gpus} GPU" + ("s" if self.gpus != 1 else ""))
        return ", ".join([*parts, f"{self.time_minutes} min"])


def sbatch_arguments(
    size: KernelJobSize, *, kernel_id: str, log: str, cwd: str, environ: Mapping[str, str]
) -> list[str]:
    """sbatch's arguments for a kernel's job: as arguments, not #SBATCH lines, so paths need no escaping.

    The job is charged to the server's project unless the spec names one, and tagged with the server's wckey:
    Slurm's node Epilog cancels it when the server's job ends, whatever ends it (roles/slurm, hpchub-sweep).
    """
    problems = size.problems()
    if problems:
        raise KernelJobError("this kernel spec cannot be submitted: " + "; ".join(problems))
    args = ["--parsable", f"--job-name={contract.KERNEL_JOB_PREFIX}{kernel_id[:8]}", f"--output={log}", "--no-requeue"]
    if cwd:
        args.append(f"--chdir={cwd}")
    return [*args, *size.request(environ).sbatch_options()]


def missing_interpreter(command: Sequence[str]) -> str:
    """The command's program when it is a path that is not there to run (a user's deleted venv): the job would
    fail on its node, later and less clearly. The home filesystem is the same on the server's node and the job's."""
    program = command[0] if command else ""
    return program if Path(program).is_absolute() and not os.access(program, os.X_OK) else ""


def job_script(command: Sequence[str]) -> str:
    """The job runs the kernel's command as its own process (exec): Slurm's signals reach the kernel."""
    return "#!/bin/bash\nexec " + shlex.join(command) + "\n"


def kernel_environment(environ: Mapping[str, str], size: KernelJobSize) -> dict[str, str]:
    """The kernel job's environment: the server's (a kernel on the server would have it), except that it keeps
    the server's own variables (HPCHUB_SERVER_ONLY names them, and Slurm's TaskProlog would unset them in a
    batch job): a Dask cluster started in the kernel is the server's, and ends with it."""
    env = {name: value for name, value in environ.items() if name != contract.ENV_SERVER_ONLY}
    env[contract.ENV_KERNEL_TIME_LIMIT] = str(size.time_minutes)
    return env


def kernel_folder(home: str | None = None) -> Path:
    """Where kernels' connection files and job logs live: on the home filesystem, which the server's node and
    the kernel's node share."""
    folder = Path(home or Path.home()) / ".local" / "share" / "jupyter" / "slurm-kernels"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def write_connection_file(path: Path, key: str, signature_scheme: str, kernel_name: str) -> None:
    """The connection file the kernel starts from: its key, and ports 0 (the kernel binds free ports on its node
    and writes them back; slurm_kernel.launch then adds the node's name as "ip"). Mode 0600: the key signs
    every message to the kernel."""
    info = {
        "shell_port": 0, "iopub_port": 0, "stdin_port": 0, "control_port": 0, "hb_port": 0,
        "ip": "0.0.0.0", "key": key, "transport": "tcp", "signature_scheme": signature_scheme,
        "kernel_name": kernel_name,
    }  # fmt: skip
    temporary = path.with_suffix(".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        json.dump(info, file)
    temporary.replace(path)


def ready_connection(path: Path) -> dict[str, object] | None:
    """The kernel's connection info once slurm_kernel.launch has published it (ports and its node), else None."""
    try:
        info = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(info, dict) or info.get("ip") in (None, "", "0.0.0.0"):
        return None
    ports = [info.get(name) for name in ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port")]
    if not all(isinstance(port, int) and port > 0 for port in ports):
        return None
    return info


@dataclass(frozen=True)
class JobState:
    """squeue's view of one job: `state` is None when Slurm did not answer (the job may well run)."""

    state: str | None
    reason: str = ""
    node: str = ""

    @property
    def alive(self) -> bool:
        return self.state is None or self.state in ANSWERING  # a completing kernel's process has ended


def parse_squeue(text: str) -> JobState:
    """One line of `squeue -h -t all -o %T|%r|%N`; no line means Slurm forgot the job (it ended)."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    if not line:
        return JobState("UNKNOWN")
    state, _, rest = line.partition("|")
    reason, _, node = rest.partition("|")
    return JobState(state.strip(), reason.strip(), node.strip())


def ended_message(job: str, state: str, log: str) -> str:
    """Why the kernel's job ended, for the notebook's user."""
    word = state.split()[0] if state.strip() else "UNKNOWN"
    what = ENDINGS.get(word, f"ended ({word})" if word != "UNKNOWN" else "ended")
    return f"The kernel's Slurm job {job} {what}; its log is {log}"


async def run(command: Sequence[str], stdin: str | None = None, env: Mapping[str, str] | None = None) -> str:
    """A Slurm command's output (hpc_slurm's runner and timeouts); KernelJobError with Slurm's reason."""
    try:
        return await arun(command, stdin=stdin, env=env)
    except SlurmError as failed:
        raise KernelJobError(str(failed)) from None


def log_tail(log: str, lines: int = 5) -> str:
    """The last lines of a job's log, for a message (empty when there is none yet)."""
    try:
        return "\n".join(Path(log).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
