"""GET <base_url>/hpc-job-clock/job: {"job_id", "end", "now"} of the server's own Slurm job (epoch seconds on the
server's clock; end is null without a time limit, job_id null outside a job).

GET <base_url>/hpc-job-clock/notices: the service's notices (maintenance, announcements), asked of the hub
(/hub/api/hpchub/notices, hpchub.notices) with the server's own token; none outside a hub."""

from __future__ import annotations

import json
import os
import time

from hpc_slurm import DurationError, SlurmError, contract
from jupyter_server.base.handlers import APIHandler
from tornado import web
from tornado.httpclient import AsyncHTTPClient, HTTPClientError

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


NO_NOTICES: dict[str, object] = {"maintenance": None, "announcements": []}


class NoticesHandler(APIHandler):
    @web.authenticated
    async def get(self) -> None:
        api = os.environ.get("JUPYTERHUB_API_URL", "")
        if not api:
            self.finish(NO_NOTICES)
            return
        token = os.environ.get("JUPYTERHUB_API_TOKEN", "")
        try:
            reply = await AsyncHTTPClient().fetch(
                f"{api.rstrip('/')}/hpchub/notices", headers={"Authorization": f"token {token}"}, request_timeout=5
            )
        except (HTTPClientError, OSError) as error:
            raise web.HTTPError(503, f"the hub did not answer: {error}") from None
        self.finish(json.loads(reply.body))
