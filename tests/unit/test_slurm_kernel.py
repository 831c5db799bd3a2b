"""The kernel-as-a-Slurm-job package's own logic (slurm_kernel.jobs, launch): its sbatch arguments, connection
files, squeue's answers and the words the notebook's user reads. The provisioner itself runs against the real
Slurm in tests/e2e/test_slurm_kernels.py."""

from __future__ import annotations

import json
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from slurm_kernel import jobs
from slurm_kernel.launch import PORTS, ending_words, listening, publish

pytestmark = pytest.mark.unit

SERVER = {"HPCHUB_JOB_ACCOUNT": "m1000", "HPCHUB_CLUSTER_WCKEY": "hpchub-41", "HPCHUB_SERVER_ONLY": "A B", "A": "1"}


def test_the_job_is_the_specs_size_charged_to_the_servers_project_and_tagged_for_the_sweep() -> None:
    size = jobs.KernelJobSize(partition="gpu", cpus=2, memory="4G", time_minutes=45, gpus=1)
    args = jobs.sbatch_arguments(
        size, kernel_id="0123456789ab", log="/h/k-%j.log", cwd="/h/my notebooks", environ=SERVER
    )
    # The kernel's own options, then its request's (hpc_slurm.jobs, the one writer of sbatch options).
    assert args == ["--parsable", "--job-name=kernel-01234567", "--output=/h/k-%j.log", "--no-requeue",
                    "--chdir=/h/my notebooks", "--partition=gpu", "--account=m1000", "--cpus-per-task=2",
                    "--mem=4G", "--time=00:45:00", "--gpus-per-node=1", "--wckey=hpchub-41"]  # fmt: skip


def test_a_spec_naming_its_project_wins_and_without_a_server_job_nothing_is_guessed() -> None:
    size = jobs.KernelJobSize(partition="debug", account="m2000")
    args = jobs.sbatch_arguments(size, kernel_id="k", log="/l", cwd="", environ=SERVER)
    assert "--account=m2000" in args
    bare = jobs.sbatch_arguments(jobs.KernelJobSize(), kernel_id="k", log="/l", cwd="", environ={})
    assert not [arg for arg in bare if arg.startswith(("--account", "--wckey", "--partition", "--chdir", "--mem"))]


@pytest.mark.parametrize(
    ("size", "words"),
    [
        (jobs.KernelJobSize(partition="debug;rm"), "partition 'debug;rm' is not a Slurm name"),
        (jobs.KernelJobSize(memory="4 gigabytes"), "memory '4 gigabytes' is not a size"),
        (jobs.KernelJobSize(cpus=0), "cpus 0 is out of range"),
        (jobs.KernelJobSize(time_minutes=0), "time_minutes 0 is out of range"),
    ],
)
def test_a_bad_spec_is_refused_before_slurm_naming_the_value(size: jobs.KernelJobSize, words: str) -> None:
    with pytest.raises(jobs.KernelJobError, match="cannot be submitted") as refused:
        jobs.sbatch_arguments(size, kernel_id="k", log="/l", cwd="", environ={})
    assert words in str(refused.value)


def test_the_job_script_execs_the_kernel_with_its_arguments_quoted(tmp_path: Path) -> None:
    script = jobs.job_script(["/bin/echo", "-f", "/h/a b.json", "$HOME"])
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True).stdout
    assert out == "-f /h/a b.json $HOME\n"
    assert script.splitlines()[1].startswith("exec ")


def test_the_kernel_keeps_the_servers_own_variables_and_learns_its_time_limit() -> None:
    env = jobs.kernel_environment(SERVER, jobs.KernelJobSize(time_minutes=30))
    assert "HPCHUB_SERVER_ONLY" not in env  # Slurm's TaskProlog would unset A and B in the job
    assert env["A"] == "1" and env["HPCHUB_CLUSTER_WCKEY"] == "hpchub-41"
    assert env["HPCHUB_KERNEL_TIME_LIMIT"] == "30"


def test_the_connection_file_is_private_and_ready_only_once_ports_and_node_are_published(tmp_path: Path) -> None:
    path = tmp_path / "kernel-1.json"
    jobs.write_connection_file(path, "secret", "hmac-sha256", "Python 3 on a compute node")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert jobs.ready_connection(path) is None  # ports 0
    ports = {name: 40000 + i for i, name in
             enumerate(("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port"))}  # fmt: skip
    path.write_text(json.dumps({**json.loads(path.read_text()), **ports}))  # what ipykernel writes back
    assert jobs.ready_connection(path) is None  # ip still 0.0.0.0: not published yet
    publish(str(path), "c1")
    info = jobs.ready_connection(path)
    assert info is not None and info["ip"] == "c1" and info["shell_port"] == 40000 and info["key"] == "secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.write_text("{not json")
    assert jobs.ready_connection(path) is None


@pytest.mark.parametrize(
    ("line", "state"),
    [
        ("RUNNING|None|c1\n", jobs.JobState("RUNNING", "None", "c1")),
        ("PENDING|Resources|\n", jobs.JobState("PENDING", "Resources", "")),
        ("TIMEOUT|None|c2\n", jobs.JobState("TIMEOUT", "None", "c2")),
        ("", jobs.JobState("UNKNOWN")),
    ],
)
def test_squeue_lines(line: str, state: jobs.JobState) -> None:
    assert jobs.parse_squeue(line) == state


def test_alive_is_pending_or_running_and_a_silent_slurm_counts_as_alive() -> None:
    assert jobs.JobState("PENDING").alive and jobs.JobState("RUNNING").alive and jobs.JobState(None).alive
    assert not any(jobs.JobState(state).alive for state in ("COMPLETING", "CANCELLED", "UNKNOWN"))


def test_reasons_that_waiting_will_not_clear() -> None:
    assert all(map(jobs.never_runs, ("AssocMaxTRESPerJobLimit", "PartitionConfig", "InvalidAccount")))
    assert jobs.never_runs("AssocMaxGRESPerJob")  # Slurm 22.05's reason for a GPU beyond the project's MaxTRES
    assert not any(map(jobs.never_runs, ("Resources", "Priority", "QOSMaxCpuPerUserLimit")))


def test_the_users_words_for_an_ended_job() -> None:
    assert (
        jobs.ended_message("7", "TIMEOUT", "/h/l.log")
        == "The kernel's Slurm job 7 reached its time limit; its log is /h/l.log"
    )
    assert "was cancelled" in jobs.ended_message("7", "CANCELLED by 20001", "/l")
    assert "ended (WEIRD)" in jobs.ended_message("7", "WEIRD", "/l")


def test_the_kernel_tells_a_time_limit_from_a_cancel() -> None:
    assert "reached its time limit (30 min)" in ending_words("9", "c1", 30 * 60 - 20, 30)
    assert "is cancelled" in ending_words("9", "c1", 120, 30)
    assert "Slurm job 9 on c1" in ending_words("9", "c1", 0, 0)


# A stand-in for a kernel that binds the ports its connection file names (as IRkernel does): it listens on all
# five after a moment, and on SIGINT (an interrupt) writes "interrupted" next to the file, then exits on SIGTERM.
OTHER_KERNEL = """
import json, signal, socket, sys, time
from pathlib import Path
info = json.loads(Path(sys.argv[1]).read_text())
assert info["ip"] == "0.0.0.0", info
time.sleep(0.3)
held = []
for name in ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port"):
    sock = socket.socket(); sock.bind(("0.0.0.0", info[name])); sock.listen(); held.append(sock)
signal.signal(signal.SIGINT, lambda *_: Path(sys.argv[1] + ".interrupted").write_text("yes"))
signal.signal(signal.SIGTERM, lambda *_: sys.exit(7))
while True:
    time.sleep(0.05)
"""


LAUNCH = [sys.executable, "-m", "slurm_kernel.launch"]


def launcher_env() -> dict[str, str]:
    """The test's own import path for the launcher's process (our packages are not installed in the tooling)."""
    import os

    import hpc_slurm
    import slurm_kernel

    folders = [str(Path(package.__file__ or "").parent.parent) for package in (slurm_kernel, hpc_slurm)]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(folders)}


def test_another_kernel_gets_free_ports_and_is_published_once_it_listens_and_gets_slurms_signals(
    tmp_path: Path,
) -> None:
    connection = tmp_path / "kernel-1.json"
    jobs.write_connection_file(connection, "k", "hmac-sha256", "R on a compute node")
    script = tmp_path / "other_kernel.py"
    script.write_text(OTHER_KERNEL)
    command = [sys.executable, str(script), "{connection_file}"]
    launcher = subprocess.Popen([*LAUNCH, "-f", str(connection), "--", *command], env=launcher_env())
    try:
        deadline = time.monotonic() + 30
        while (info := jobs.ready_connection(connection)) is None:
            assert launcher.poll() is None and time.monotonic() < deadline, "never published"
            time.sleep(0.05)
        assert info["ip"] == socket.gethostname() and info["key"] == "k"
        ports = [info[name] for name in PORTS]
        assert len(set(ports)) == 5
        assert all(listening(port) for port in ports)  # published only once the kernel listens on every port
        assert stat.S_IMODE(connection.stat().st_mode) == 0o600
        launcher.send_signal(signal.SIGINT)  # as `scancel --batch --signal=INT` does to the job's launcher
        interrupted = connection.with_name(connection.name + ".interrupted")
        while not interrupted.exists():
            assert time.monotonic() < deadline, "the interrupt did not reach the kernel"
            time.sleep(0.05)
        launcher.send_signal(signal.SIGTERM)  # Slurm ends the job
        assert launcher.wait(timeout=10) == 7  # the kernel's own exit code
    finally:
        launcher.kill()


def test_another_kernel_that_dies_before_it_listens_is_never_published(tmp_path: Path) -> None:
    connection = tmp_path / "kernel-2.json"
    jobs.write_connection_file(connection, "k", "hmac-sha256", "R")
    command = [sys.executable, "-c", "raise SystemExit(3)", "{connection_file}"]
    done = subprocess.run([*LAUNCH, "-f", str(connection), "--", *command], env=launcher_env(), timeout=30, check=False)
    assert done.returncode == 3
    assert jobs.ready_connection(connection) is None
