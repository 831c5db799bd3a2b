"""A kernel provisioner of jupyter_client whose kernel runs as a Slurm job (kernel specs name it
`slurm-provisioner`, with the job's size as its config).

Start: sbatch a job that runs slurm_kernel.launch with a connection file on the home filesystem (ports 0); the
kernel binds free ports on its node and publishes them with the node's name; the server connects there.
Interrupt is a message (kernel.json's interrupt_mode), shutdown the kernel's own, then scancel if need be.
A job that Slurm ends (scancel, time limit, lost node) is a dead kernel, not restarted into a new job behind
the user's back: SlurmKernelRestarter gives up at once, and the reason is logged and shown in the running cell
by the kernel itself (launch.py).
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path
from typing import Any

from hpc_slurm.modules import command_of
from jupyter_client.ioloop.restarter import AsyncIOLoopKernelRestarter
from jupyter_client.provisioning.provisioner_base import KernelProvisionerBase
from jupyter_core.paths import jupyter_runtime_dir
from tornado.web import HTTPError
from traitlets import Float, Int, Integer, Unicode

from slurm_kernel.jobs import (
    JobState,
    KernelJobError,
    KernelJobSize,
    ended_message,
    job_script,
    kernel_environment,
    kernel_folder,
    log_tail,
    missing_interpreter,
    never_runs,
    parse_squeue,
    ready_connection,
    run,
    sbatch_arguments,
    write_connection_file,
)


class SlurmKernelRestarter(AsyncIOLoopKernelRestarter):
    """A kernel whose job ended is dead at once: restarting it would start a new job, and lose its state, behind
    the user's back (Kernel > Restart starts a new job on request)."""

    restart_limit = Integer(0, config=True, help="Automatic restarts of a kernel whose Slurm job ended.")


class SlurmProvisioner(KernelProvisionerBase):
    """Runs the kernel as a Slurm job; the kernel spec's provisioner config is the job's size."""

    partition = Unicode("", config=True, help="The kernel job's partition ('' for Slurm's default).")
    cpus = Int(1, config=True, help="CPUs of the kernel's job.")
    memory = Unicode("", config=True, help="Memory of the kernel's job (sbatch --mem: 2048M, 4G).")
    time = Int(30, config=True, help="Time limit of the kernel's job, in minutes.")
    gpus = Int(0, config=True, help="GPUs of the kernel's job.")
    account = Unicode("", config=True, help="Project to charge ('' for the server's own, else the default).")
    qos = Unicode("", config=True, help="QoS of the kernel's job.")
    launch_timeout = Float(300.0, config=True, help="Seconds a kernel's job may wait in the queue and start.")
    squeue_interval = Float(1.0, config=True, help="Seconds between squeue calls about one kernel's job.")

    job_id: str | None = None
    node = ""
    exit_code: int | None = None
    ended = ""  # why the job ended, when Slurm ended it
    _asked_to_end = False
    _checked = 0.0
    _connection: Path | None = None
    _log = ""

    @property
    def size(self) -> KernelJobSize:
        return KernelJobSize(self.partition, self.cpus, self.memory, self.time, self.gpus, self.account, self.qos)

    @property
    def has_process(self) -> bool:
        return self.job_id is not None and self.exit_code is None

    async def pre_launch(self, **kwargs: Any) -> dict[str, Any]:
        manager = self.parent
        if getattr(manager, "restarter_class", None) is not None:
            manager.restarter_class = SlurmKernelRestarter
        folder = kernel_folder()
        self._connection = folder / f"kernel-{self.kernel_id}.json"
        # The kernel reads our connection file on the shared home, not the server's own (its runtime folder may be
        # local to the server's node). A manager without a file of its own (nbclient, papermill, jupyter console:
        # LocalProvisioner would write one) is given one where Jupyter Server puts its own, for the command to name.
        if not manager.connection_file:
            runtime = Path(jupyter_runtime_dir())
            runtime.mkdir(mode=0o700, parents=True, exist_ok=True)
            manager.connection_file = str(runtime / f"kernel-{self.kernel_id}.json")
        command = manager.format_kernel_cmd(extra_arguments=kwargs.get("extra_arguments"))
        command = [part.replace(manager.connection_file, str(self._connection)) for part in command]
        return await super().pre_launch(cmd=command, **kwargs)  # type: ignore[no-any-return]

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> dict[str, Any]:
        """Submit the kernel's job and wait until the kernel listens. A failure is an HTTPError whose message
        Jupyter Server passes on to the notebook (any other exception reaches it as "Unhandled error")."""
        try:
            return await self._launch(cmd, **kwargs)
        except KernelJobError as failed:
            self.log.warning("Kernel %s: %s", self.kernel_id, failed)
            raise HTTPError(500, str(failed)) from None

    async def _launch(self, cmd: list[str], **kwargs: Any) -> dict[str, Any]:
        manager = self.parent
        assert self._connection is not None
        self.job_id, self.exit_code, self.ended, self._asked_to_end, self.node = None, None, "", False, ""
        key = manager.session.key
        write_connection_file(self._connection, key.decode(), manager.session.signature_scheme,
                              self.kernel_spec.display_name)  # fmt: skip
        missing = missing_interpreter(command_of(cmd))
        if missing:
            self._connection.unlink(missing_ok=True)
            raise KernelJobError(f"This kernel's interpreter {missing} is missing (was its environment deleted?): make "
                                 f"the environment again, or remove the kernel: jupyter kernelspec remove "
                                 f"{self.parent.kernel_name}")  # fmt: skip
        environ = kernel_environment(kwargs.get("env") or os.environ, self.size)
        self._log = str(self._connection.parent / "slurm-kernel-%j.log")
        args = sbatch_arguments(self.size, kernel_id=self.kernel_id, log=self._log, cwd=kwargs.get("cwd") or "",
                                environ=environ)  # fmt: skip
        try:
            submitted = await run(["sbatch", *args], stdin=job_script(cmd), env=environ)
        except KernelJobError as refused:
            self._connection.unlink(missing_ok=True)
            raise KernelJobError(f"Slurm did not accept the kernel's job ({self.size.describe()}): {refused}") from None
        self.job_id = submitted.strip().split(";")[0]
        self._log = self._log.replace("%j", self.job_id)
        self.log.info("Kernel %s: Slurm job %s (%s)", self.kernel_id, self.job_id, self.size.describe())
        info = await self._until_ready(self._connection)
        connection = {**info, "key": key}
        self.connection_info = connection
        return connection

    async def _until_ready(self, path: Path) -> dict[str, Any]:
        """Wait for the kernel to publish its ports (the file is read every 20 ms); meanwhile ask Slurm every
        `squeue_interval`, in the background, whether the job still can: fail at once if it ended or will never
        run, and cancel it at the timeout."""
        deadline = time.monotonic() + self.launch_timeout
        state = JobState("PENDING")
        asked: asyncio.Task[JobState] | None = None
        checked = time.monotonic()
        try:
            while (info := ready_connection(path)) is None:
                if asked is None and time.monotonic() - checked >= self.squeue_interval:
                    asked = asyncio.ensure_future(self._query())
                if asked is not None and asked.done():
                    state, asked, checked = asked.result(), None, time.monotonic()
                    self._refuse_if_it_cannot_run(state)
                if time.monotonic() > deadline:
                    raise KernelJobError(
                        f"The kernel's Slurm job {self.job_id} was still {state.state or 'starting'}"
                        f"{f' ({state.reason})' if state.reason and state.reason != 'None' else ''} after "
                        f"{self.launch_timeout:.0f} s, and is cancelled: try a kernel of another partition or later"
                    )
                await asyncio.sleep(0.02)
        except KernelJobError:
            await self._cancel()  # ended already, or never to run, or too long in the queue
            raise
        finally:
            if asked is not None:
                asked.cancel()
        self.node = str(info["ip"])
        self.log.info("Kernel %s: job %s runs on %s", self.kernel_id, self.job_id, self.node)
        return info

    def _refuse_if_it_cannot_run(self, state: JobState) -> None:
        if not state.alive:
            tail = log_tail(self._log)
            raise KernelJobError(ended_message(self.job_id or "?", state.state or "", self._log)
                                 + (f":\n{tail}" if tail else ""))  # fmt: skip
        if never_runs(state.reason):
            raise KernelJobError(
                f"Slurm will not start the kernel's job {self.job_id} ({self.size.describe()}): "
                f"{state.reason}. It is cancelled: your project or QoS does not allow it"
            )

    async def _query(self) -> JobState:
        try:
            text = await run(["squeue", "-h", "-t", "all", "-j", str(self.job_id), "-o", "%T|%r|%N"])
        except KernelJobError as failed:
            if "Invalid job id" in str(failed):
                return JobState("UNKNOWN")
            self.log.warning("Kernel %s: squeue about job %s failed (%s)", self.kernel_id, self.job_id, failed)
            return JobState(None)
        return parse_squeue(text)

    async def poll(self) -> int | None:
        if self.job_id is None or self.exit_code is not None:
            return self.exit_code if self.job_id is not None else 0
        if time.monotonic() - self._checked < self.squeue_interval:
            return None
        self._checked = time.monotonic()
        state = await self._query()
        if state.alive:
            return None
        self.exit_code = 0 if state.state == "COMPLETED" else 1
        if not self._asked_to_end:
            self.ended = ended_message(self.job_id, state.state or "", self._log)
            self.log.warning("Kernel %s: %s", self.kernel_id, self.ended)
        return self.exit_code

    async def wait(self) -> int | None:
        while (code := await self.poll()) is None:
            await asyncio.sleep(0.2)
        return code

    async def send_signal(self, signum: int) -> None:
        if self.job_id is None or signum == 0:
            return
        name = signal.Signals(signum).name.removeprefix("SIG")
        await run(["scancel", "--batch", f"--signal={name}", self.job_id])

    async def _cancel(self) -> None:
        if self.job_id is None:
            return
        self._asked_to_end = True
        try:
            await run(["scancel", self.job_id])
        except KernelJobError as failed:
            self.log.warning("Kernel %s: scancel of job %s failed: %s", self.kernel_id, self.job_id, failed)

    async def kill(self, restart: bool = False) -> None:
        await self._cancel()

    async def terminate(self, restart: bool = False) -> None:
        await self._cancel()

    async def shutdown_requested(self, restart: bool = False) -> None:
        self._asked_to_end = True

    async def cleanup(self, restart: bool = False) -> None:
        if self._connection is not None:
            self._connection.unlink(missing_ok=True)
        if self._asked_to_end and self._log and "%j" not in self._log:
            Path(self._log).unlink(missing_ok=True)  # kept when Slurm ended the job: it says why
        self.job_id = None

    def get_shutdown_wait_time(self, recommended: float = 5.0) -> float:
        return max(recommended, 6.0)  # the kernel's exit, then Slurm's record of its job's end

    def get_stable_start_time(self, recommended: float = 10.0) -> float:
        return recommended

    async def get_provisioner_info(self) -> dict[str, Any]:
        info: dict[str, Any] = await super().get_provisioner_info()
        info.update(job_id=self.job_id, node=self.node, log=self._log,
                    connection=str(self._connection) if self._connection else "")  # fmt: skip
        return info

    async def load_provisioner_info(self, provisioner_info: dict[str, Any]) -> None:
        await super().load_provisioner_info(provisioner_info)
        self.job_id = provisioner_info.get("job_id")
        self.node = provisioner_info.get("node", "")
        self._log = provisioner_info.get("log", "")
        connection = provisioner_info.get("connection")
        self._connection = Path(connection) if connection else None
