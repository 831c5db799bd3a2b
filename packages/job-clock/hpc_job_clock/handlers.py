"""GET <base_url>/hpc-job-clock/job: {"job_id", "end", "now"} of the server's own Slurm job (epoch seconds on the
server's clock; end is null without a time limit, job_id null outside a job)."""

from __future__ import annotations

import os
import time

from hpc_slurm import DurationError, SlurmError, contract
from jupyter_server.base.handlers import APIHandler
from tornado import web

from hpc_job_clock.time_left import job_time_left

# Set by hpchub-singleuser from SLURM_JOB_ID, which it removes so that jobs submitted from the server do not
# inherit the server's own job.
JOB_ID_VARIABLE = contract.ENV_JOB_ID


class JobClockHandler(APIHandler):
    @web.authenticated
    async def get(self) -> None:
        job_id = os.environ.get(JOB_ID_VARIABLE) or None
        end: float | None = None
        now = time.time()
        if job_id is not None:
            try:
                left = await job_time_left(job_id)
            except (SlurmError, DurationError) as error:
                raise web.HTTPError(503, str(error)) from None
            now = time.time()
            end = None if left is None else now + left
        self.finish({"job_id": job_id, "end": end, "now": now})
