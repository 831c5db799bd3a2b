"""SlurmSpawner with one typed options schema for the form and REST, and clear progress messages."""

from __future__ import annotations

import asyncio
import html
import pwd
import re
import shlex
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import Any

from batchspawner import SlurmSpawner
from batchspawner.batchspawner import JobStatus, format_template
from hpc_slurm import SlurmError, arun, contract
from hpc_slurm.modules import with_modules
from hpc_slurm.states import ACTIVE, base_state
from tornado import web
from traitlets import Bool, Float, Int, List, Unicode, default

from hpchub import audit, notices, spawn_form
from hpchub.home_quota import QuotaCheck, check_home_quota
from hpchub.hub_state import HubState, hub_state
from hpchub.options import (
    OptionsError,
    SpawnOptions,
    parse_options,
    sbatch_directives,
)
from hpchub.places import Environment, Place, load_site
from hpchub.slurm_errors import slurm_refusal
from hpchub.slurm_limits import Limits, LimitsCache
from hpchub.start_load import StartLoad

# The log's name (hpc_slurm.contract.SERVER_LOG) marks the job as a Jupyter server for Slurm's node Epilog, which
# cancels the server's Dask and IPython Parallel jobs with it (roles/slurm, hpchub-sweep.sh, rendered from the
# same contract): a site's own batch_script keeps that name.
BATCH_SCRIPT = (
    """#!/bin/bash
{{directives}}
#SBATCH --job-name="""
    + contract.SERVER_JOB_PREFIX
    + """{{username}}{{job_name_suffix}}
#SBATCH --output={{homedir}}/"""
    + contract.SERVER_LOG
    + """
#SBATCH --chdir={{homedir}}
#SBATCH --export={{keepvars}}
#SBATCH --get-user-env=L
#SBATCH --no-requeue
set -euo pipefail
trap 'echo SIGTERM received' TERM
{{cmd}}
"""
)


class HpcSlurmSpawner(SlurmSpawner):
    """Spawn options are parsed into `SpawnOptions` against live Slurm limits; nothing raw is submitted."""

    cluster_name = Unicode("", help="Slurm ClusterName (for sacctmgr).").tag(config=True)
    default_partition = Unicode("", help="Partition chosen when the user names none.").tag(config=True)
    limits_ttl = Float(60.0, help="Seconds Slurm limits are cached per user.").tag(config=True)
    # batchspawner's and JupyterHub's traits, with this deployment's defaults (the one place they are set).
    poll_interval = Int(10, help="Seconds between checks that a running server's job still runs (stock 30).").tag(
        config=True
    )
    http_timeout = Int(
        120, help="Seconds a started server may take to answer HTTP (a cold node imports JupyterLab; stock 30)."
    ).tag(config=True)
    startup_poll_interval = Float(0.2, help="Seconds between checks of a starting job (stock 0.5).").tag(config=True)
    places: Any = List(
        help="The site's places (site_places): name, partition, description, kind, defaults, ranges. "
        "Empty: the form offers the partitions themselves."
    ).tag(config=True)
    environments: Any = List(
        help="The site's environments (site_environments): name, prefix, description, lock, shared; the places "
        "offer them. Empty: every server starts in the configured cmd's environment."
    ).tag(config=True)
    batch_script = Unicode(BATCH_SCRIPT).tag(config=True)
    quota_command = Unicode(
        "", help="Home quota check run before every spawn ({username}, {home}); see hpchub.home_quota."
    ).tag(config=True)
    quota_as_user = Bool(True, help="Run the quota check as the user (sudo -u).").tag(config=True)
    quota_timeout = Float(10.0, help="Seconds the quota check may take.").tag(config=True)
    server_poll_interval = Float(0.05, help="Seconds between checks that the new server listens.").tag(config=True)
    job_check_interval = Float(
        1.0, help="Seconds between squeue calls while a new server's job starts (each is a sudo and an squeue)."
    ).tag(config=True)
    start_load_step = Int(
        5, help="Servers starting at once beyond which the start-up checks slow down in proportion."
    ).tag(config=True)
    user_lookup_wait = Float(60.0, help="Seconds a poll waits for an unknown user to appear (directory start-up).").tag(
        config=True
    )
    cancel_retry_interval = Float(10.0, help="Seconds between retries of a scancel Slurm did not take.").tag(
        config=True
    )
    cancel_retry_for = Float(3600.0, help="Seconds a scancel Slurm did not take is retried.").tag(config=True)
    cancel_deferred = False
    user_lookup_step = 2.0  # seconds between lookups of an unknown user (a plain attribute: tests shorten it)
    stop_check_interval = 1.0  # seconds between the checks that a cancelled job ended (likewise)

    spawn_options: SpawnOptions | None = None
    _port_reported: asyncio.Event | None = None  # made by each start, which awaits it
    _loaded_site: tuple[tuple[Place, ...], tuple[Environment, ...]] | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.last_choices: dict[str, dict[str, str]] = {}  # a place's (or partition's) last choices, kept in state

    def _site(self) -> tuple[tuple[Place, ...], tuple[Environment, ...]]:
        """The site model (places and environments), checked once."""
        if self._loaded_site is None:
            self._loaded_site = load_site(self.places, self.environments)
        return self._loaded_site

    def site_places(self) -> tuple[Place, ...]:
        return self._site()[0]

    def site_environments(self) -> tuple[Environment, ...]:
        return self._site()[1]

    def site_environment(self, name: str) -> Environment:
        return next(environment for environment in self.site_environments() if environment.name == name)

    def start_in(self, environment: Environment) -> None:
        """This spawn's server runs from the environment's prefix (its launcher and jupyterhub-singleuser), after
        the environment's modules are loaded."""
        prefix = environment.prefix
        self.cmd = [f"{prefix}/bin/jupyterhub-singleuser"]
        launcher = [f"{prefix}/bin/python3", f"{prefix}/bin/hpchub-singleuser"]
        self.batchspawner_singleuser_cmd = shlex.join(with_modules(environment.modules, launcher))

    def get_env(self) -> dict[str, str]:
        env: dict[str, str] = super().get_env()
        if self.spawn_options and self.spawn_options.environment:
            env[contract.ENV_ENVIRONMENT] = self.spawn_options.environment
        return env

    def get_state(self) -> dict[str, Any]:
        state: dict[str, Any] = super().get_state()
        if self.last_choices:
            state["last_choices"] = self.last_choices
        return state

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        choices = state.get("last_choices")
        if isinstance(choices, dict):
            self.last_choices = {str(k): dict(v) for k, v in choices.items() if isinstance(v, dict)}

    @property
    def hub_state(self) -> HubState:
        """What the hub's spawners share (limits, availability, starts, retries): the hub's, not the class's."""
        return hub_state(self.user.settings, self.start_load_step)

    def limits_cache(self) -> LimitsCache:
        return self.hub_state.limits_cache(self.cluster_name, self.default_partition, self.limits_ttl)

    async def user_limits(self) -> Limits:
        try:
            limits = await self.limits_cache().for_user(self.user.name)
        except SlurmError as error:
            self.log.warning("Slurm limits for %s unavailable: %s", self.user.name, error)
            raise web.HTTPError(503, "Slurm does not answer right now; try again in a minute") from None
        places = {place.name: place for place in self.site_places() if place.partition in limits.partitions}
        return replace(limits, places=places) if places else limits

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
        subvars["job_name_suffix"] = job_name_suffix(self.name)
        return subvars

    async def submit_batch_script(self) -> Any:
        if self.spawn_options is None:
            raise web.HTTPError(400, "spawn options were not checked")
        try:
            return await super().submit_batch_script()
        except RuntimeError as refused:
            raise web.HTTPError(*slurm_refusal(str(refused))) from None

    async def check_quota(self) -> None:
        check = QuotaCheck(self.quota_command, self.quota_as_user, self.quota_timeout)
        verdict = await check_home_quota(check, self.user.name, pwd.getpwnam(self.user.name).pw_dir, self.log)
        if not verdict.allowed:
            raise web.HTTPError(403, verdict.message)

    async def start(self) -> tuple[str, int]:
        """Submit, wait for the job to report its port, find its node, then wait for the server to listen.

        batchspawner polls squeue every `startup_poll_interval` until the job runs, then waits for the
        port, and returns before JupyterLab listens; the hub then polls the server with an exponential
        back-off and finds it up to seconds late. Here the port report (sent by the running job) is
        awaited in short, cheap steps, and Slurm is asked only every `job_check_interval` meanwhile
        (one sudo and squeue each: with many spawns pending, polling squeue every 0.2 s was half the
        hub's CPU). Waiting for the listening socket hands the hub a server that answers its first poll.
        A job that ends on the way fails the spawn at once, naming its log, instead of at the timeout.
        """
        self.ip = self.traits()["ip"].default_value
        self.port = self.traits()["port"].default_value
        self._port_reported = asyncio.Event()
        if self.server:
            self.server.port = self.port
        with self.hub_state.start_load as load:
            await self.submit_batch_script()
            if not self.job_id:
                raise RuntimeError("Slurm did not return a job id for the server's job")
            await self._until_port_reported(load)
            while (status := await self.query_job_status()) != JobStatus.RUNNING:
                if status == JobStatus.NOTFOUND:
                    raise self._ended("report its node")
                await asyncio.sleep(load.interval(self.startup_poll_interval))
            self.ip = self.state_gethost()
            await self._while_job_runs("listen", self._listening, load)
        self.log.info("Notebook server job %s listens at %s:%s", self.job_id, self.ip, self.port)
        options = self.spawn_options
        audit.event("server_started", user=self.user.name, server=self.name or None,
                    place=options.place if options else None, partition=options.partition if options else None,
                    job_id=str(self.job_id), node=self.ip)  # fmt: skip
        return self.ip, self.port

    def report_port(self, port: int) -> None:
        """The running job's report of its server's port (hpchub.port_report's handler, checked there): sets the
        port and wakes the start waiting for it."""
        self.port = port
        if self._port_reported is not None:
            self._port_reported.set()

    async def _until_port_reported(self, load: StartLoad) -> None:
        """Await the port report; every `job_check_interval` without one, make sure the job has not ended."""
        reported = self._port_reported
        assert reported is not None, "start() makes the event before it submits"
        while not self.port:
            try:
                await asyncio.wait_for(reported.wait(), load.interval(self.job_check_interval))
            except TimeoutError:
                if await self.query_job_status() == JobStatus.NOTFOUND:
                    raise self._ended("report its port") from None

    async def _listening(self) -> bool:
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(self.ip, self.port), 1.0)
        except (OSError, TimeoutError):
            return False
        writer.close()
        return True

    async def _while_job_runs(self, what: str, done: Callable[[], Awaitable[bool]], load: StartLoad) -> None:
        """Poll `done` every `server_poll_interval`; every `job_check_interval`, make sure the job has not ended.

        Both intervals grow in proportion when more than `start_load_step` servers start at once.
        """
        checked = time.monotonic()
        while not await done():
            if time.monotonic() - checked >= load.interval(self.job_check_interval):
                checked = time.monotonic()
                if await self.query_job_status() == JobStatus.NOTFOUND:
                    raise self._ended(what)
            await asyncio.sleep(load.interval(self.server_poll_interval))

    def _ended(self, what: str) -> web.HTTPError:
        """The error of a job that ended during start-up: its message reaches REST, the spawn page and progress.

        (A plain exception is answered "Internal Server Error" by the REST API when the spawn fails within
        the hub's slow_spawn_timeout.)
        """
        log = self.job_log_path()
        state = self.job_status or "no state"
        self.clear_state()
        message = f"The server's job ended before JupyterLab could {what} ({state}); see {log}"
        error = web.HTTPError(500, message)
        setattr(error, "jupyterhub_message", message)  # noqa: B010  (what the hub shows on the spawn page)
        return error

    async def cancel_batch_job(self) -> None:
        """scancel; when Slurm does not answer, retry in the background instead of forgetting the job.

        The hub clears a stopped server's state (its job id) even when scancel failed: with the
        controller down, the job would run on, orphaned, once the controller is back.
        """
        try:
            await super().cancel_batch_job()
        except RuntimeError as failed:
            status, reason = slurm_refusal(str(failed))
            if status != 503:
                raise
            self.log.warning("scancel of job %s failed (%s): retrying every %.0f s", self.job_id, reason,
                             self.cancel_retry_interval)  # fmt: skip
            subvars = {**self.get_req_subvars(), "job_id": self.job_id}
            command = (
                f"{format_template(self.exec_prefix, **subvars)} {format_template(self.batch_cancel_cmd, **subvars)}"
            )
            task = asyncio.ensure_future(self._cancel_later(self.job_id, command))
            self.hub_state.retries.add(task)
            task.add_done_callback(self.hub_state.retries.discard)
            self.cancel_deferred = True

    async def stop(self, now: bool = False) -> None:
        """batchspawner's stop, except that a deferred scancel returns at once (no 10 polls of a silent Slurm)."""
        self.cancel_deferred = False
        await self.cancel_batch_job()
        if now or self.cancel_deferred:
            return
        for _ in range(10):
            if await self.query_job_status() not in (JobStatus.RUNNING, JobStatus.UNKNOWN):
                return
            await asyncio.sleep(self.stop_check_interval)
        self.log.warning("Job %s possibly failed to terminate", self.job_id)

    async def _cancel_later(self, job_id: str, command: str) -> None:
        ends = time.monotonic() + self.cancel_retry_for
        while time.monotonic() < ends:
            await asyncio.sleep(self.cancel_retry_interval)
            try:
                await self.run_command(command)
            except RuntimeError as failed:
                if slurm_refusal(str(failed))[0] == 503:
                    continue
                self.log.info("Job %s: scancel says %s (ended meanwhile?)", job_id, str(failed).strip()[:200])
                return
            self.log.info("Job %s cancelled after Slurm came back", job_id)
            return
        self.log.error("Job %s could not be cancelled for %.0f s: cancel it by hand", job_id, self.cancel_retry_for)

    async def poll(self) -> int | None:
        """None while the server's job runs. A user the system does not know (yet) keeps the server.

        At a hub's start-up, the directory (sssd, LDAP, or the accounts role on a re-created hub
        container) may not list the users yet; stock batchspawner's poll then fails and the hub
        forgets every running server, leaving its job orphaned in Slurm. Wait for the user a while;
        if still unknown, keep the server: the next poll decides.
        """
        if self.job_id and not await self._user_known():
            self.log.warning("User %s unknown to the system after %.0f s: keeping job %s", self.user.name,
                             self.user_lookup_wait, self.job_id)  # fmt: skip
            return None
        result: int | None = await super().poll()
        if result is not None and self.job_id:
            state = (self.job_status or "").split(" ")[0] or None
            audit.event("server_ended", user=self.user.name, server=self.name or None, job_id=str(self.job_id),
                        actor="slurm", actor_kind="slurm", state=state)  # fmt: skip
        return result

    async def _user_known(self) -> bool:
        ends = time.monotonic() + self.user_lookup_wait
        while True:
            try:
                pwd.getpwnam(self.user.name)
                return True
            except KeyError:
                if time.monotonic() >= ends:
                    return False
            await asyncio.sleep(self.user_lookup_step)

    async def query_job_status(self) -> JobStatus:
        """squeue first; when it does not list the job, sacct decides whether the job really ended.

        A failing squeue (controller down, a timeout) must never make the hub forget a running server:
        only a job that accounting reports as ended, or that neither the controller nor accounting knows,
        is gone. When accounting does not answer either, the state is unknown and the server is kept.
        """
        status = await super().query_job_status()
        if status != JobStatus.NOTFOUND or not self.job_id:
            return status
        # The controller answered and does not know the job (rather than not answering at all).
        denied = "Invalid job id" in (self.job_status or "")
        try:
            state = await arun(["sacct", "--noheader", "--parsable2", "-X", "-j", self.job_id, "--format=state"])
        except SlurmError as error:
            self.log.warning("Job %s: squeue and sacct do not answer (%s); keeping the server", self.job_id, error)
            return JobStatus.UNKNOWN
        words = state.split()
        if not words and denied:
            # Neither the controller nor accounting has heard of it: the cluster was reset (make down, a
            # new slurmctld state). Keeping the server would leave a ghost that no poll ever clears.
            self.log.warning("Job %s unknown to the controller and to accounting: the server is gone", self.job_id)
            return JobStatus.NOTFOUND
        if not words or base_state(words[0]) in ACTIVE:
            self.log.warning("Job %s not in squeue but %s in accounting; keeping the server", self.job_id,
                             words[0] if words else "not yet")  # fmt: skip
            return JobStatus.UNKNOWN
        self.log.info("Job %s ended: %s", self.job_id, words[0])
        setattr(self, "job_status", f"{words[0]} in accounting")  # noqa: B010  (batchspawner's untyped trait)
        return JobStatus.NOTFOUND

    def job_log_path(self) -> str:
        return contract.server_log(self.req_homedir, self.job_id)

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


async def apply_user_options(spawner: HpcSlurmSpawner, user_options: dict[str, Any]) -> None:
    """The one path of every spawn (form and REST): maintenance (503), parse (400) and the home quota (403) first."""
    notices.refuse_during_maintenance(spawner.user, "New servers cannot start")
    spawner.spawn_options = await spawner.parse(dict(user_options or {}))
    await spawner.check_quota()
    options = spawner.spawn_options
    if options.environment:
        spawner.start_in(spawner.site_environment(options.environment))
    spawner.last_choices[options.place or options.partition] = as_user_options(options)


def job_name_suffix(server_name: str) -> str:
    """`-NAME` for a named server's job (jupyter-alice-gpu), its characters limited to what a directive may hold."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", server_name)[:40]
    return f"-{safe}" if safe else ""


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
    if options.place:
        values["place"] = options.place
    if options.environment:
        values["environment"] = options.environment
    return values


async def render_options_form(spawner: HpcSlurmSpawner) -> str:
    """The spawn form (hpchub.spawn_form), drawn from the same limits the parser enforces."""
    limits = await spawner.user_limits()
    now = await spawner.hub_state.availability.now() if limits.accounts else {}
    environments = {environment.name: environment.description for environment in spawner.site_environments()}
    view = spawn_form.form_view(limits, now, dict(spawner.user_options or {}), spawner.last_choices, environments)
    return spawn_form.render(view)
