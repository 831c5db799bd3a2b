"""Running a Slurm command: the one runner, synchronous (`run`) and asynchronous (`arun`).

Every failure is a `SlurmError`, of one of two kinds a user must tell apart:
- `SlurmNotAnswering`: the command is missing, did not answer within its timeout (it is then killed: with the
  controller hanging, each poll would otherwise leave one more behind), or said it cannot reach the controller
  or the accounting daemon. Nothing was decided: try again later.
- `SlurmRefused`: Slurm answered and said no; `reason` is Slurm's own message, without the `sbatch: error:`.

The timeout policy is one: a query (squeue, sinfo, sacct, sacctmgr, scontrol show) gets `QUERY_TIMEOUT_S`, an
action (sbatch, scancel, scontrol update/hold/release) gets `ACTION_TIMEOUT_S`, longer because an action that
timed out may still have been carried out. A command a user typed (the Slurm magics) gets `USER_TIMEOUT_S`: a
user's sacct over months of jobs may take long, and they can interrupt it. A caller on a page's critical path
may pass a shorter `timeout`.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
from collections.abc import Mapping, Sequence
from typing import NamedTuple

QUERY_TIMEOUT_S = 10.0
ACTION_TIMEOUT_S = 60.0
USER_TIMEOUT_S = 120.0
ACTIONS = frozenset({"sbatch", "scancel", "salloc", "srun", "strigger"})
# Words of Slurm's clients when the controller or slurmdbd cannot be reached (the request was not decided).
NOT_ANSWERING = ("contact slurm controller", "timed out", "unable to connect", "connection refused",
                 "problem talking to the database")  # fmt: skip
_PREFIX = re.compile(r"^\S+: error:\s*")  # "sbatch: error: " before Slurm's own words


class Answer(NamedTuple):
    """What a command that succeeded printed (scancel --verbose reports on its standard error)."""

    stdout: str
    stderr: str


class SlurmError(RuntimeError):
    """A Slurm command failed: see SlurmNotAnswering and SlurmRefused."""

    def __init__(self, command: str, reason: str) -> None:
        super().__init__(f"{command}: {reason}")
        self.command = command
        self.reason = reason


class SlurmNotAnswering(SlurmError):
    """Slurm did not answer (missing command, timeout, controller or accounting unreachable): try again later."""


class SlurmRefused(SlurmError):
    """Slurm answered and refused; `reason` is its own message."""


def default_timeout(argv: Sequence[str]) -> float:
    """The policy's timeout for a command: an action's is longer than a query's."""
    name = argv[0].rsplit("/", 1)[-1] if argv else ""
    if name in ACTIONS or (name == "scontrol" and len(argv) > 1 and argv[1] != "show"):
        return ACTION_TIMEOUT_S
    return QUERY_TIMEOUT_S


def reason_of(stderr: str) -> str:
    """Slurm's own reason in a client's standard error: its first `error:` line without the `sbatch: error: `."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    line = next((line for line in lines if "error:" in line), lines[-1] if lines else "")
    return _PREFIX.sub("", line).strip()


def error_from(command: str, stderr: str, returncode: int | None = None) -> SlurmError:
    """The SlurmError a failed command's standard error stands for."""
    reason = reason_of(stderr) or f"{command} failed" + (f" with exit code {returncode}" if returncode else "")
    if any(word in reason.lower() for word in NOT_ANSWERING):
        return SlurmNotAnswering(command, reason)
    return SlurmRefused(command, reason[:500])


def _name(argv: Sequence[str]) -> str:
    return argv[0] if argv else "slurm"


def _not_started(argv: Sequence[str], error: OSError) -> SlurmNotAnswering:
    if isinstance(error, FileNotFoundError):
        return SlurmNotAnswering(_name(argv), "not found on PATH (is the Slurm client installed here?)")
    return SlurmNotAnswering(_name(argv), str(error))


def run_answer(argv: Sequence[str], *, stdin: str | None = None, env: Mapping[str, str] | None = None,
               timeout: float | None = None) -> Answer:  # fmt: skip
    """The command's standard output and error, or a SlurmError."""
    limit = default_timeout(argv) if timeout is None else timeout
    try:
        done = subprocess.run(list(argv), input=stdin, capture_output=True, text=True, timeout=limit,
                              env=dict(env) if env is not None else None, check=False)  # fmt: skip
    except OSError as error:
        raise _not_started(argv, error) from error
    except subprocess.TimeoutExpired as error:
        raise SlurmNotAnswering(_name(argv), f"no answer within {limit:g} s") from error
    if done.returncode != 0:
        raise error_from(_name(argv), done.stderr or done.stdout, done.returncode)
    return Answer(done.stdout, done.stderr)


def run(argv: Sequence[str], *, stdin: str | None = None, env: Mapping[str, str] | None = None,
        timeout: float | None = None) -> str:  # fmt: skip
    """The command's standard output, or a SlurmError."""
    return run_answer(argv, stdin=stdin, env=env, timeout=timeout).stdout


async def arun(argv: Sequence[str], *, stdin: str | None = None, env: Mapping[str, str] | None = None,
               timeout: float | None = None) -> str:  # fmt: skip
    """`run` for an event loop: the command's standard output, or a SlurmError (killed at its timeout)."""
    limit = default_timeout(argv) if timeout is None else timeout
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=dict(env) if env is not None else None,
        )
    except OSError as error:
        raise _not_started(argv, error) from error
    try:
        out, err = await asyncio.wait_for(proc.communicate(stdin.encode() if stdin is not None else None), limit)
    except TimeoutError as error:
        proc.kill()
        await proc.wait()
        raise SlurmNotAnswering(_name(argv), f"no answer within {limit:g} s") from error
    if proc.returncode != 0:
        raise error_from(_name(argv), err.decode(errors="replace") or out.decode(errors="replace"), proc.returncode)
    return out.decode(errors="replace")
