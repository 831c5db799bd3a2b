"""The time left in the Jupyter server's own Slurm job: GET <base_url>/hpc-job-clock/job for JupyterLab's
status bar (the hpc-job-clock JupyterLab extension), from squeue's TimeLeft of $HPCHUB_JOB_ID; and the service's
notices (GET <base_url>/hpc-job-clock/notices), which the extension shows as notifications."""

from __future__ import annotations

from typing import Any


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "hpc_job_clock"}]


def _load_jupyter_server_extension(server_app: Any) -> None:
    from hpc_job_clock.handlers import JobClockHandler, NoticesHandler  # jupyter_server, where a server loads us

    web_app = server_app.web_app
    base = web_app.settings["base_url"].rstrip("/") + "/hpc-job-clock"
    web_app.add_handlers(".*$", [(f"{base}/job", JobClockHandler), (f"{base}/notices", NoticesHandler)])
