"""Faults 1 and 2: the hub restarted and re-created, the proxy restarted."""

from __future__ import annotations

import time

from tests.support.cluster import check_intact, jupyter_jobs, make, timed
from tests.support.docker import docker
from tests.support.hubclient import hub_healthy


def test_hub_restarted_keeps_every_server(servers):
    jobs = jupyter_jobs()
    docker("restart", "jupyterhub")
    timed("hub healthy after a restart", hub_healthy, 90)
    check_intact(servers, jobs)


def test_hub_recreated_from_its_image_with_the_same_volume_keeps_every_server(servers):
    """The container removed and made again by `make up`: a fresh /etc/passwd until the accounts role runs."""
    jobs = jupyter_jobs()
    before = docker("inspect", "--format", "{{.Id}}", "jupyterhub").stdout.strip()
    docker("rm", "--force", "jupyterhub")
    make("up")
    assert docker("inspect", "--format", "{{.Id}}", "jupyterhub").stdout.strip() != before
    check_intact(servers, jobs)


def test_proxy_restarted_gets_its_routes_back_within_5_s(servers):
    jobs = jupyter_jobs()
    restarted = time.monotonic()
    docker("restart", "proxy")
    seconds = timed("every server answers through the restarted proxy",
                    lambda: all(server.answers() for server in servers.values()), 5, since=restarted)  # fmt: skip
    assert seconds <= 5
    check_intact(servers, jobs)
