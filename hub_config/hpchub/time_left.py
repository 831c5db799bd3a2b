"""GET /hub/api/hpchub/time-left/USER: the time left in each of the user's running servers' Slurm jobs, for the
home page's grid ({server name: seconds, or null without a limit}); one squeue of the user's jobs."""

from __future__ import annotations

from typing import Any

from hpc_slurm import SlurmError, arun, parse_seconds
from jupyterhub.apihandlers.base import APIHandler
from jupyterhub.scopes import needs_scope
from tornado import web


def parse_time_left(text: str) -> dict[str, int | None]:
    """`squeue --format=%i|%L` lines -> seconds left per job (None: no limit; minutes' precision is Slurm's)."""
    left: dict[str, int | None] = {}
    for line in text.splitlines():
        job, _, shown = line.strip().partition("|")
        if not job or not shown:
            continue
        left[job] = parse_seconds(shown)
    return left


class TimeLeftHandler(APIHandler):  # type: ignore[misc]
    @needs_scope("read:servers")  # type: ignore[untyped-decorator]
    async def get(self, user_name: str) -> None:
        user = self.find_user(user_name)
        if user is None:
            raise web.HTTPError(404)
        jobs: dict[str, str] = {
            name: str(spawner.job_id)
            for name, spawner in user.spawners.items()
            if spawner.active and getattr(spawner, "job_id", "")
        }
        if not jobs:
            self.finish({})
            return
        try:
            out = await arun(["squeue", "--noheader", f"--user={user.name}", "--format=%i|%L"], timeout=5)
        except SlurmError as error:
            raise web.HTTPError(503, str(error)) from None
        left: dict[str, Any] = parse_time_left(out)
        self.finish({name: left.get(job) for name, job in jobs.items() if job in left})


HANDLERS = [(r"/api/hpchub/time-left/([^/]+)", TimeLeftHandler)]
