"""Faults 1 and 2: the hub restarted, stopped (the proxy's maintenance page) and re-created, the proxy restarted."""

from __future__ import annotations

import time

from tests.support.cluster import check_intact, jupyter_jobs, make, timed
from tests.support.docker import docker, on
from tests.support.hubclient import HubSession, hub_healthy, public_get
from tests.support.monitoring import SCRAPE_INTERVAL_S, alerts
from tests.support.waiting import wait_for


def test_hub_restarted_keeps_every_server(servers):
    jobs = jupyter_jobs()
    docker("restart", "jupyterhub")
    timed("hub healthy after a restart", hub_healthy, 90)
    check_intact(servers, jobs)


def test_hub_restarted_keeps_every_named_server(servers):
    """erin's two named servers, one on the login node and one on a compute node, across a hub restart."""
    jobs = jupyter_jobs()
    erin = HubSession("erin")
    assert erin.login().status_code == 200
    options = {"login": {"partition": "login", "time": 60}, "compute": {"partition": "interactive", "time": 60}}

    def ready() -> bool:
        listed = erin.api("GET", "/users/erin").json().get("servers", {})
        return all(listed.get(name, {}).get("ready") for name in options)

    def named_jobs() -> dict[str, str]:
        out = on("slurmctld", "squeue --noheader --user=erin --format='%j %i'").stdout
        return dict(line.split() for line in out.splitlines() if line.startswith("jupyter-erin-"))

    try:
        for name, chosen in options.items():
            reply = erin.api("POST", f"/users/erin/servers/{name}", json={"user_options": chosen})
            assert reply.status_code in (201, 202), reply.text[:300]
        wait_for("erin's named servers ready", ready, 120)
        before = named_jobs()
        assert set(before) == {"jupyter-erin-login", "jupyter-erin-compute"}, before
        docker("restart", "jupyterhub")
        timed("hub healthy after a restart", hub_healthy, 90)
        wait_for("erin's named servers ready again", ready, 60)
        for name in options:
            assert erin.server_get(f"{name}/api/status").status_code == 200, name
        assert named_jobs() == before
    finally:
        for name in options:
            erin.api("DELETE", f"/users/erin/servers/{name}", json={"remove": True})
        wait_for("erin's named servers' jobs gone", lambda: not named_jobs(), 60, 0.5)
    check_intact(servers, jobs)


def test_hub_stopped_for_an_upgrade_shows_the_maintenance_page_and_servers_keep_answering(servers):
    """What users see while the hub is down for an upgrade (make maintenance first): the proxy's page with the
    operator's message for the hub's pages and for a server whose route is gone; running servers still answer."""
    jobs = jupyter_jobs()
    make("maintenance", "MESSAGE=Upgrading JupyterHub to the new release", "UNTIL=14:30 UTC")
    docker("stop", "jupyterhub")
    try:
        for path in ("/hub/home", "/user/nobody/lab"):
            page = public_get(path, allow_redirects=False)
            assert page.status_code == 503, (path, page.status_code)
            assert "Upgrading JupyterHub to the new release" in page.text and "14:30 UTC" in page.text, path
        assert all(server.answers() for server in servers.values())
        timed("HubDown pending", lambda: alerts("HubDown", state="pending") or alerts("HubDown"),
              2 * SCRAPE_INTERVAL_S + 3)  # fmt: skip
    finally:
        docker("start", "jupyterhub")
        timed("hub healthy after its upgrade", hub_healthy, 90)
        make("maintenance")
    page = public_get("/nobody-here", allow_redirects=False)  # the hub's own 404 again, not the proxy's page
    assert "Upgrading JupyterHub" not in page.text
    check_intact(servers, jobs)


def test_hub_recreated_from_its_image_with_the_same_volume_keeps_every_server(servers):
    """The container removed and made again by `make up`: a fresh /etc/passwd until the accounts role runs.
    The hub host's deploy alone (localhost here): what makes the hub again, without the cluster hosts' roles,
    which the other tests run (27 s, not a whole `make up`)."""
    jobs = jupyter_jobs()
    before = docker("inspect", "--format", "{{.Id}}", "jupyterhub").stdout.strip()
    docker("rm", "--force", "jupyterhub")
    make("up", "ANSIBLE_ARGS=--limit localhost")
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
