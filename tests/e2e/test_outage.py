"""A hub restart while the Slurm controller is down keeps users' servers (nothing is lost)."""

from __future__ import annotations

import subprocess

from tests.support.cluster import slurm_jobs, wait_ready
from tests.support.docker import on
from tests.support.hubclient import hub_healthy, public_get
from tests.support.waiting import wait_for


def test_hub_restart_during_a_controller_outage_keeps_the_server(session_of):
    bob = session_of("bob")
    before = set(slurm_jobs("bob"))
    assert bob.api("POST", "/users/bob/server", json={"user_options": {"cpus": 1, "time": 20}}).status_code in (
        201,
        202,
    )
    wait_ready(bob)
    jobs = set(slurm_jobs("bob")) - before
    assert len(jobs) == 1
    token = bob.token()
    try:
        assert on("slurmctld", "systemctl stop slurmctld").returncode == 0
        assert on("slurmctld", "squeue").returncode != 0  # the controller is really down
        restarted = subprocess.run(["docker", "restart", "jupyterhub"], capture_output=True, check=False)
        assert restarted.returncode == 0
        wait_for("hub healthy again", hub_healthy, 90)
        # The hub polled the server at start-up with no controller: unknown state, so the server is kept.
        assert bob.login().status_code == 200
        wait_for("bob's server ready again after the hub's check", lambda: bool(bob.server().get("ready")), 60)
        status = public_get("/user/bob/api/status", headers={"Authorization": f"token {token}"})
        assert status.status_code == 200
    finally:
        on("slurmctld", "systemctl start slurmctld")
        wait_for("controller answers", lambda: on("slurmctld", "squeue").returncode == 0, 60)
    assert jobs <= set(slurm_jobs("bob"))  # the same job, still running
