"""The contract between the hub, a user's server, its kernels and Slurm's node scripts, defined once.

The hub's spawner writes the server's job with SERVER_LOG (its marker for the node Epilog); the server's launcher
(hpchub-singleuser) keeps the server's job in the ENV_* variables, and tags the jobs of the server's Dask and
IPython Parallel clusters and kernels with cluster_wckey(job); the slurm role renders its Epilog (the sweep) and
TaskProlog from `python -m hpc_slurm.contract` (these values as JSON), so no script spells them on its own.
Standard library only, and light: the launcher imports it at every server's start.
"""

from __future__ import annotations

import json

ENV_JOB_ID = "HPCHUB_JOB_ID"  # the server's own job (its SLURM_JOB_ID, which the launcher removes)
ENV_JOB_ACCOUNT = "HPCHUB_JOB_ACCOUNT"  # the server's project: kernels and clusters are charged to it
ENV_JOB_PARTITION = "HPCHUB_JOB_PARTITION"
ENV_CLUSTER_WCKEY = "HPCHUB_CLUSTER_WCKEY"  # the wckey of the jobs that end with the server
ENV_SERVER_ONLY = "HPCHUB_SERVER_ONLY"  # the server's own variables, which the TaskProlog unsets in batch jobs
ENV_ENVIRONMENT = "HPCHUB_ENVIRONMENT"  # the site environment (site_environments) the server started in
ENV_KERNEL_TIME_LIMIT = "HPCHUB_KERNEL_TIME_LIMIT"  # a kernel job's time limit (minutes), for the kernel
WCKEY_PREFIX = "hpchub-"
# Job names: a server's job is jupyter-USER[-SERVER], a Slurm kernel's kernel-ID (the Slurm exporter tells them apart).
SERVER_JOB_PREFIX = "jupyter-"
KERNEL_JOB_PREFIX = "kernel-"
# A server's job writes its log here, in the user's home (%j: the job id): the node Epilog knows the job as a
# Jupyter server's by it, and the hub names it in its messages.
SERVER_LOG = ".jupyterhub-slurm-%j.log"


def cluster_wckey(job_id: str) -> str:
    """The wckey of the jobs that end with server job `job_id` (the node Epilog cancels them)."""
    return f"{WCKEY_PREFIX}{job_id}"


def server_log(home: str, job_id: str) -> str:
    return f"{home}/{SERVER_LOG.replace('%j', job_id)}"


def as_dict() -> dict[str, str]:
    """The contract's values, by their names in lower case (what the slurm role's templates use)."""
    return {name.lower(): value for name, value in globals().items() if name.isupper() and isinstance(value, str)}


if __name__ == "__main__":
    print(json.dumps(as_dict()))
