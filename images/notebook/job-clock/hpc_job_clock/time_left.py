"""Reading a Slurm job's time left from squeue (`%L`: [days-][hours:]minutes:seconds, or a word)."""

from __future__ import annotations

import asyncio
import re

SQUEUE = "squeue"
TIMEOUT_S = 15.0
_TIME_LEFT = re.compile(r"^(?:(?:(?P<days>\d+)-)?(?P<hours>\d+):)?(?P<minutes>\d+):(?P<seconds>\d+)$")


class SlurmError(RuntimeError):
    """squeue failed or said something we cannot read; the message is Slurm's own."""


def parse_time_left(text: str) -> int | None:
    """Seconds from squeue's TimeLeft; None when the job has no limit (UNLIMITED, NOT_SET)."""
    text = text.strip()
    if text in ("UNLIMITED", "NOT_SET", "INFINITE"):
        return None
    match = _TIME_LEFT.match(text)
    if not match:
        raise SlurmError(f"squeue gave a time left that is not a duration: {text!r}")
    parts = {key: int(value or 0) for key, value in match.groupdict().items()}
    return ((parts["days"] * 24 + parts["hours"]) * 60 + parts["minutes"]) * 60 + parts["seconds"]


async def job_time_left(job_id: str) -> int | None:
    """The job's time left in seconds (None: no time limit), as squeue shows it to the job's own user."""
    proc = await asyncio.create_subprocess_exec(
        SQUEUE, "--noheader", "--jobs", job_id, "--format", "%L",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        out, err = await asyncio.wait_for(proc.communicate(), TIMEOUT_S)
    except TimeoutError:
        proc.kill()
        raise SlurmError(f"squeue did not answer in {TIMEOUT_S:.0f} s") from None
    lines = out.decode().split()
    if proc.returncode != 0 or not lines:
        raise SlurmError(err.decode().strip() or f"squeue does not know job {job_id}")
    return parse_time_left(lines[0])
