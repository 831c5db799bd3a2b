"""The hub's services: a scoped token for tests and monitoring, and the idle culler."""

from __future__ import annotations

from tests.support.docker import on
from tests.support.hubclient import SERVICE_TOKEN, as_service


def test_service_token_file_is_private():
    assert SERVICE_TOKEN.stat().st_mode & 0o777 == 0o600


def test_service_token_reads_users_and_servers(session_of):
    for user in ("alice", "bob"):
        session_of(user)  # a new hub knows users only once they have logged in
    users = as_service("GET", "/users")
    assert users.status_code == 200
    assert {"alice", "bob"} <= {user["name"] for user in users.json()}


def test_service_token_is_scoped():
    assert as_service("POST", "/users/mallory").status_code == 403  # may not create users
    assert as_service("GET", "/groups").status_code == 403  # nor read what it was not given


def test_idle_culler_runs_as_a_hub_service():
    services = as_service("GET", "/services")
    assert services.status_code in (200, 403)  # listing services is not among the token's scopes
    culler = on("jupyterhub", "grep -l 'jupyterhub_idle_culle[r]' /proc/[0-9]*/cmdline 2>/dev/null | head -1")
    assert culler.stdout.strip(), "no jupyterhub_idle_culler process in the hub container"
    owner = on("jupyterhub", f"stat -c %U {culler.stdout.strip().rsplit('/', 1)[0]}")
    assert owner.stdout.strip() == "jupyterhub"
