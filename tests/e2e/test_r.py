"""R (issue 32): IRkernel on every node, Debian's `r-base-core` and `r-cran-irkernel`. On a login-node server: R as
a local kernel (Debian's spec `ir`), and R as a Slurm job on a compute node (slurm-debug-r, written by the
notebook_env role for each place with a kernel, started by slurm_kernel.launch with free ports of its node),
where Slurm's commands work from R and an interrupt reaches the running cell."""

from __future__ import annotations

import contextlib
import time
from typing import Any

import pytest

from tests.support.docker import on
from tests.support.hubclient import json_of
from tests.support.infra import hosts_of
from tests.support.waiting import wait_for

USER, UID = "erin", "20005"
R_DEBUG_KERNEL = "R on a compute node (debug, 1 CPU, 30 min)"


def jobs_of(user: str) -> dict[str, str]:
    """The user's Slurm jobs: name -> node."""
    out = on("slurmctld", f"squeue --noheader --user={user} --format='%j|%N'").stdout
    return dict(line.split("|") for line in out.splitlines() if line)


@pytest.fixture
def login_server(session_of) -> Any:
    session = session_of(USER)
    reply = session.api("POST", f"/users/{USER}/server", json={"place": "login"})
    assert reply.status_code in (201, 202), reply.text[:300]
    session.wait_ready(120)
    return session


def test_r_runs_on_the_server_and_as_a_slurm_job_on_a_compute_node(login_server):
    session = login_server
    specs = json_of(session.server_get("api/kernelspecs"))["kernelspecs"]
    assert specs["ir"]["spec"]["language"] == "R", sorted(specs)
    assert specs["slurm-debug-r"]["spec"]["display_name"] == R_DEBUG_KERNEL, sorted(specs)

    with session.kernel(120, name="ir") as kernel:  # R on the server's own node, the login node
        host, version = kernel.run('cat(Sys.info()[["nodename"]], R.version$major, "\\n")').split()
        assert host == "login" and int(version) >= 4, (host, version)

    started = time.monotonic()
    with session.kernel(180, name="slurm-debug-r") as kernel:
        ready_s = time.monotonic() - started
        printed = kernel.run(
            'cat(Sys.info()[["nodename"]], system("id -u", intern = TRUE), Sys.getenv("SLURM_JOB_PARTITION"))'
        )
        host, kernel_uid, partition = printed.split()
        assert host in set(hosts_of("compute")) and partition == "debug", printed
        assert kernel_uid == UID, printed
        # Slurm's commands from R (intern = TRUE: IRkernel shows R's output, not a command's own stdout).
        queue = kernel.run('cat(system("squeue --me --noheader --format=%j", intern = TRUE), sep = "\\n")')
        assert f"kernel-{kernel.id[:8]}" in queue.split() and f"jupyter-{USER}" in queue.split(), queue
        assert jobs_of(USER)[f"kernel-{kernel.id[:8]}"] == host
        # An interrupt (scancel --signal=INT to the job, passed on to R by the launcher) stops the running cell;
        # the kernel lives on.
        msg_id = kernel.started('cat("started\\n")\nSys.sleep(600)')
        reply = session.post(f"{kernel.api}/kernels/{kernel.id}/interrupt", headers=kernel.auth)
        assert reply.status_code == 204, reply.text[:200]
        interrupted = time.monotonic()
        with contextlib.suppress(AssertionError):  # IRkernel may report the interrupt as the cell's error
            kernel.outcome(msg_id)
        assert time.monotonic() - interrupted < 30
        assert kernel.run("cat(6 * 7)") == "42"
    wait_for("the R kernel's job gone", lambda: not any(name.startswith("kernel-") for name in jobs_of(USER)), 30, 0.5)
    print(f"R kernel job ready in {ready_s:.1f} s (request to the kernel's start)")
