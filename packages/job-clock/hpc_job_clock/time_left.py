"""A Slurm job's time left, as squeue shows it to the job's own user (`%L`), read with the Slurm layer."""

from __future__ import annotations

from hpc_slurm import SlurmRefused, arun, parse_seconds

SQUEUE = "squeue"


async def job_time_left(job_id: str) -> int | None:
    """The job's time left in seconds (None: no time limit). A SlurmError when squeue fails or no longer lists
    the job; a DurationError when it prints what is not a duration."""
    lines = (await arun([SQUEUE, "--noheader", "--jobs", job_id, "--format", "%L"])).split()
    if not lines:
        raise SlurmRefused("squeue", f"squeue does not know job {job_id}")
    return parse_seconds(lines[0])
