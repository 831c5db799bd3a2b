"""Faults 3 to 5: the Slurm controller down for 30 s, a compute node killed, a job cancelled by an admin; each
fault's alert fires within two scrape intervals of Prometheus seeing it and resolves when it is over."""

from __future__ import annotations

import time

import pytest

from tests.support.cluster import check_intact, check_no_orphans, jupyter_jobs, start_server, timed
from tests.support.docker import docker, on
from tests.support.hubclient import HubSession, KernelDied
from tests.support.monitoring import GROUP_INTERVAL_S, GROUP_WAIT_S, SCRAPE_INTERVAL_S, alerts, received, start_receiver
from tests.support.waiting import wait_for

# An alert without `for` fires at the first rule evaluation after the scrape that saw the fault: within two
# scrape intervals (the evaluation interval is the same), plus Slurm's clients' own answer.
ALERT_WITHIN_S = 2 * SCRAPE_INTERVAL_S + 3


def controller_answers() -> bool:
    return on("slurmctld", "squeue --noheader --jobs=0 >/dev/null 2>&1; scontrol ping | grep -q UP").returncode == 0


def test_controller_down_30_s_loses_no_server_and_a_spawn_meanwhile_fails_clearly(servers):
    jobs = jupyter_jobs()
    erin = HubSession("erin")  # without a server: she asks for one during the outage
    assert erin.login().status_code == 200
    if erin.server():
        erin.stop()
    start_receiver()
    stopped = time.monotonic()
    assert on("slurmctld", "systemctl stop slurmctld").returncode == 0
    try:
        assert not controller_answers()
        timed("SlurmControllerDown firing", lambda: alerts("SlurmControllerDown"), ALERT_WITHIN_S, since=stopped)
        fired = time.monotonic()
        for server in servers.values():
            assert server.answers(), f"{server.user}'s server stopped answering with the controller down"
        asked = time.monotonic()
        reply = erin.api("POST", "/users/erin/server", json={"user_options": {"partition": "interactive"}})
        if reply.status_code == 202:  # slower than the hub's slow_spawn_timeout: the failure is in the events
            erin.wait("erin's spawn fails", lambda: not erin.server(), 120, 0.5)
            message = erin.get(f"{erin.hub}/hub/api/users/erin/server/progress", timeout=10).text
        else:
            assert reply.status_code == 503, reply.text[:300]
            message = reply.json()["message"]
        waited = time.monotonic() - asked
        print(f"spawn during the outage refused in {waited:.1f} s: {message[:160]}")
        assert "Slurm" in message and "try again" in message
        assert waited < 60 and not erin.server()
        # dave stops his server meanwhile: scancel cannot reach Slurm; the hub must not forget the job.
        dave = servers.pop("dave")
        dave.session.api("DELETE", "/users/dave/server")
        dave.session.wait("dave's server stopped in the hub", lambda: not dave.session.server(), 60, 0.5)
        wait_for("30 s of outage", lambda: time.monotonic() - stopped >= 30, 40, 1)
        # Alertmanager holds a new group for group_wait; a group it notified before (the e2e tier's outage fired
        # this alert) has news sent at its next group_interval tick. Either is after Prometheus hands the alert on.
        timed("SlurmControllerDown sent to the site's webhook", lambda: received("SlurmControllerDown"),
              max(GROUP_WAIT_S, GROUP_INTERVAL_S) + ALERT_WITHIN_S, since=fired)  # fmt: skip
    finally:
        on("slurmctld", "systemctl start slurmctld")
    timed("controller answers again", controller_answers, 60)
    timed("SlurmControllerDown resolved", lambda: not alerts("SlurmControllerDown"), ALERT_WITHIN_S + 10)
    timed("dave's job cancelled once Slurm is back", lambda: "dave" not in jupyter_jobs().values(), 30)
    check_intact(servers, {job: user for job, user in jobs.items() if user != "dave"})
    assert "erin" not in jupyter_jobs().values()


def test_a_killed_node_shows_its_servers_stopped_within_60_s_and_the_user_respawns_elsewhere(servers):
    jobs = jupyter_jobs()
    node = on("slurmctld", "squeue --noheader --user=alice --name=jupyter-alice --format=%N").stdout.strip()
    others = {user: server for user, server in servers.items() if user != "alice"}
    assert node and all(on("slurmctld", f"squeue -h -u {u} -o %N").stdout.strip() != node for u in others)
    alice = servers["alice"]
    killed = time.monotonic()
    docker("kill", node)
    try:
        timed(f"alice's server shown stopped after {node} was killed", lambda: not alice.session.server(), 60,
              since=killed)  # fmt: skip
        # Slurm marks the node not responding after SlurmdTimeout (20 s); the alert follows within two scrapes.
        timed(f"NodeDown firing for {node}", lambda: alerts("NodeDown", node=node), 60, since=killed)
        for server in others.values():
            assert server.answers(), f"{server.user}'s server was touched by the loss of {node}"
        again = start_server("alice", {"partition": "interactive", "cpus": 1, "time": 30})
        placed = on("slurmctld", "squeue --noheader --user=alice --name=jupyter-alice --format=%N").stdout.strip()
        assert placed and placed != node
        assert again.answers()
        check_intact(others, jobs)
        again.session.stop()
    finally:
        docker("start", node)
        wait_for(f"{node} back in Slurm", lambda: node_state(node) in ("idle", "mixed", "allocated"), 90, 1)


def node_state(node: str) -> str:
    return on("slurmctld", f"sinfo --noheader --nodes={node} --format=%T").stdout.strip()


def test_a_job_cancelled_by_an_admin_shows_the_server_stopped(servers):
    bob = servers["bob"]
    job = on("slurmctld", "squeue --noheader --user=bob --name=jupyter-bob --format=%i").stdout.strip()
    cancelled = time.monotonic()
    assert on("slurmctld", f"scancel {job}").returncode == 0
    timed("bob's server shown stopped after scancel", lambda: not bob.session.server(), 30, since=cancelled)
    check_no_orphans()


def test_a_kernel_job_cancelled_by_scancel_shows_a_dead_kernel_with_the_reason(servers):
    """A kernel running as a Slurm job (slurm-interactive) is cancelled under a running cell: the cell shows the
    kernel's last words (why), the server reports the kernel dead and forgets it; nothing restarts it."""
    jobs = jupyter_jobs()
    alice = servers["alice"].session
    with alice.kernel(120, name="slurm-interactive") as kernel:
        msg_id = kernel.started("print('started', flush=True)\nimport time\ntime.sleep(600)")
        listed = on("slurmctld", "squeue --noheader --user=alice --format='%j %i'").stdout.split("\n")
        [job] = [line.split()[1] for line in listed if line.startswith(f"kernel-{kernel.id[:8]} ")]
        on("slurmctld", f"scancel {job}")
        cancelled = time.monotonic()
        with pytest.raises(KernelDied) as died:
            kernel.outcome(msg_id)
        print(f"kernel shown dead {time.monotonic() - cancelled:.1f} s after scancel")
        assert f"Slurm job {job} on " in str(died.value) and "is cancelled" in str(died.value), died.value
        gone = f"{kernel.api}/kernels/{kernel.id}"
        wait_for("the server forgets the dead kernel",
                 lambda: alice.get(gone, headers=kernel.auth).status_code == 404, 30, 0.5)  # fmt: skip
        names = on("slurmctld", "squeue --noheader --user=alice --format=%j").stdout.split()
        assert not [name for name in names if name.startswith("kernel-")], names  # not restarted into a new job
    check_intact(servers, jobs)
