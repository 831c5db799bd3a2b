"""Dask's SLURMCluster whose scale() fails at once with Slurm's refusal.

dask_jobqueue's scale() only schedules the submissions: a worker job that sbatch refuses (an account the
user lacks, more CPUs or memory than a node has, a partition that does not exist) is logged from the event
loop, no exception reaches the caller, and client.wait_for_workers() waits for workers that never come.
This subclass first asks Slurm about the worker's job script (`sbatch --test-only`, about 0.1 s) and raises
SlurmError with Slurm's message. Everything else is dask_jobqueue's (docs/upstream.md).
"""

from __future__ import annotations

from typing import Any

import dask_jobqueue

from slurm_magic.commands import SlurmError, check_job_script

__all__ = ["SLURMCluster", "SlurmError"]


class SLURMCluster(dask_jobqueue.SLURMCluster):
    """dask_jobqueue.SLURMCluster, whose scale() raises SlurmError when Slurm would refuse its worker jobs."""

    def scale(self, n: int | None = None, jobs: int = 0, memory: str | None = None, cores: int | None = None) -> Any:
        if (n or jobs or memory or cores) and not self.asynchronous:
            check_job_script(self.job_script())
        return super().scale(n, jobs=jobs, memory=memory, cores=cores)
