"""SlurmSpawner with one typed options schema for the form and REST, and clear progress messages."""

from __future__ import annotations

import asyncio
import html
from collections.abc import AsyncIterator
from typing import Any, ClassVar

from batchspawner import SlurmSpawner
from batchspawner.batchspawner import JobStatus
from tornado import web
from traitlets import Float, Unicode, default

from hpchub.options import Limits, OptionsError, SpawnOptions, parse_options, sbatch_directives
from hpchub.slurm_limits import LimitsCache, SlurmUnavailable, run

BATCH_SCRIPT = """#!/bin/bash
{{directives}}
#SBATCH --job-name=jupyter-{{username}}
#SBATCH --output={{homedir}}/.jupyterhub-slurm-%j.log
#SBATCH --chdir={{homedir}}
#SBATCH --export={{keepvars}}
#SBATCH --get-user-env=L
set -euo pipefail
trap 'echo SIGTERM received' TERM
{{cmd}}
"""


class HpcSlurmSpawner(SlurmSpawner):
    """Spawn options are parsed into `SpawnOptions` against live Slurm limits; nothing raw is submitted."""

    cluster_name = Unicode("", help="Slurm ClusterName (for sacctmgr).").tag(config=True)
    default_partition = Unicode("", help="Partition chosen when the user names none.").tag(config=True)
    limits_ttl = Float(60.0, help="Seconds Slurm limits are cached per user.").tag(config=True)
    batch_script = Unicode(BATCH_SCRIPT).tag(config=True)

    _caches: ClassVar[dict[tuple[str, str, float], LimitsCache]] = {}
    spawn_options: SpawnOptions | None = None

    def limits_cache(self) -> LimitsCache:
        key = (self.cluster_name, self.default_partition, self.limits_ttl)
        if key not in self._caches:
            self._caches[key] = LimitsCache(self.cluster_name, self.default_partition, self.limits_ttl)
        return self._caches[key]

    async def user_limits(self) -> Limits:
        try:
            return await self.limits_cache().for_user(self.user.name)
        except SlurmUnavailable as error:
            self.log.warning("Slurm limits for %s unavailable: %s", self.user.name, error)
            raise web.HTTPError(503, "Slurm does not answer right now; try again in a minute") from None

    @default("options_form")
    def _options_form_default(self) -> Any:
        return render_options_form

    async def options_from_form(self, formdata: dict[str, list[str]]) -> dict[str, str]:
        """Parse now, so that a bad value is shown in the form; store the plain values."""
        raw = {key: values for key, values in formdata.items() if key != "_xsrf"}
        options = await self.parse(raw)
        return as_user_options(options)

    async def parse(self, raw: dict[str, Any]) -> SpawnOptions:
        limits = await self.user_limits()
        try:
            return parse_options(raw, limits)
        except OptionsError as refused:
            self.log.info("Refused spawn options of %s: %s", self.user.name, refused)
            raise web.HTTPError(400, str(refused)) from None

    @default("apply_user_options")
    def _apply_user_options_default(self) -> Any:
        return apply_user_options

    def get_req_subvars(self) -> dict[str, Any]:
        subvars: dict[str, Any] = super().get_req_subvars()
        # Only the batch script uses the directives; querying and cancelling a job (also after a hub
        # restart, when the options of a running server are no longer in memory) do not.
        options = self.spawn_options
        subvars["directives"] = "\n".join(sbatch_directives(options)) if options else ""
        return subvars

    async def submit_batch_script(self) -> Any:
        if self.spawn_options is None:
            raise web.HTTPError(400, "spawn options were not checked")
        return await super().submit_batch_script()

    async def query_job_status(self) -> JobStatus:
        """squeue first; when it does not list the job, sacct decides whether the job really ended.

        A failing squeue (controller down, a timeout) must never make the hub forget a running server:
        only a job that accounting reports as ended is gone. When accounting does not answer either,
        the state is unknown and the server is kept.
        """
        status = await super().query_job_status()
        if status != JobStatus.NOTFOUND or not self.job_id:
            return status
        try:
            state = await run(["sacct", "--noheader", "--parsable2", "-X", "-j", self.job_id, "--format=state"])
        except SlurmUnavailable as error:
            self.log.warning("Job %s: squeue and sacct do not answer (%s); keeping the server", self.job_id, error)
            return JobStatus.UNKNOWN
        words = state.split()
        if not words or words[0] in STILL_ALIVE:
            self.log.warning("Job %s not in squeue but %s in accounting; keeping the server", self.job_id,
                             words[0] if words else "not yet")  # fmt: skip
            return JobStatus.UNKNOWN
        self.log.info("Job %s ended: %s", self.job_id, words[0])
        return JobStatus.NOTFOUND

    def job_log_path(self) -> str:
        return f"{self.req_homedir}/.jupyterhub-slurm-{self.job_id}.log"

    async def progress(self) -> AsyncIterator[dict[str, str]]:
        while True:
            status = (self.job_status or "").split()
            if self.job_id and self.state_ispending():
                reason = status[1] if len(status) > 1 else "queued"
                yield {"message": f"Job {self.job_id} is pending ({reason})"}
            elif self.job_id and self.state_isrunning():
                yield {"message": f"Job {self.job_id} is running on {self.state_gethost()}; "
                                  f"starting JupyterLab (log: {self.job_log_path()})"}  # fmt: skip
                return
            elif self.job_id:
                yield {"message": f"Job {self.job_id}: {html.escape(self.job_status or 'no state yet')}"}
            else:
                yield {"message": "Submitting the job to Slurm"}
            await asyncio.sleep(1)


# sacct states of a job that has not ended (everything else, COMPLETED, FAILED, CANCELLED..., has).
STILL_ALIVE = frozenset({"PENDING", "RUNNING", "REQUEUED", "RESIZING", "SUSPENDED", "CONFIGURING", "COMPLETING"})


async def apply_user_options(spawner: HpcSlurmSpawner, user_options: dict[str, Any]) -> None:
    """The one path of every spawn (form and REST): parse, or refuse with 400 before anything is submitted."""
    spawner.spawn_options = await spawner.parse(dict(user_options or {}))


def as_user_options(options: SpawnOptions) -> dict[str, str]:
    values = {
        "partition": options.partition,
        "account": options.account,
        "qos": options.qos,
        "nodes": str(options.nodes),
        "cpus": str(options.cpus),
        "memory": f"{options.memory_mb}M",
        "time": str(options.time_minutes),
        "gpus": str(options.gpus),
    }
    if options.reservation:
        values["reservation"] = options.reservation
    return values


def _select(name: str, label: str, choices: tuple[str, ...], chosen: str) -> str:
    options = "".join(
        f'<option value="{html.escape(c)}"{" selected" if c == chosen else ""}>{html.escape(c)}</option>'
        for c in choices
    )
    return (
        f'<label for="{name}">{label}</label><select class="form-control" name="{name}" id="{name}">{options}</select>'
    )


def _number(name: str, label: str, low: int, high: int, value: int) -> str:
    return (
        f'<label for="{name}">{label}</label><input class="form-control" type="number" name="{name}" '
        f'id="{name}" min="{low}" max="{high}" value="{value}" required>'
    )


async def render_options_form(spawner: HpcSlurmSpawner) -> str:
    """The spawn form, drawn from the same limits the parser enforces."""
    limits = await spawner.user_limits()
    if not limits.accounts:
        return '<p class="alert alert-danger">You have no Slurm account to charge: ask for one to be added.</p>'
    defaults = parse_options({}, limits)
    part = limits.partitions[defaults.partition]
    limits_note = ", ".join(
        f"{p.name}: up to {p.max_nodes} nodes, {p.max_cpus_per_node} CPUs and {p.max_memory_mb_per_node} MB per node, "
        f"{p.max_time_minutes} min"
        for p in limits.partitions.values()
    )
    fields = [
        _select("partition", "Partition", tuple(limits.partitions), defaults.partition),
        _select("account", "Account (project)", limits.accounts, defaults.account),
        _select("qos", "QoS", limits.qos, defaults.qos),
        _number("nodes", "Nodes", 1, part.max_nodes, 1),
        _number("cpus", "CPUs per node", 1, part.max_cpus_per_node, defaults.cpus),
        _number("memory", "Memory per node (MB)", 1, part.max_memory_mb_per_node, defaults.memory_mb),
        _number("time", "Time limit (minutes)", 1, part.max_time_minutes, defaults.time_minutes),
    ]
    note = f'<p class="help-block">{html.escape(limits_note)}</p>'
    return "\n".join(f'<div class="form-group">{field}</div>' for field in fields) + note
