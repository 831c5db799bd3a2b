"""End-to-end: the hub as users reach it, through the proxy (HTTPS, 127.0.0.1:8443), against what `make up` started."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import requests
from docker_exec import on
from hubclient import HUB, PASSWORDS, ROOT, HubSession, public_get  # noqa: F401  (the tests import them here)


def slurm_jobs(user: str) -> list[str]:
    out = on("slurmctld", f"squeue --noheader --user={user} --format=%i").stdout
    return out.split()


def accounted_jobs(user: str) -> int:
    out = on("slurmctld", f"sacct --noheader --allusers --user={user} -X --starttime=now-1days --format=jobid").stdout
    return len(out.split())


@pytest.fixture(scope="session", autouse=True)
def hub_is_up() -> None:
    try:
        public_get("/hub/health", timeout=5).raise_for_status()
    except requests.RequestException as error:
        pytest.fail(f"no hub at {HUB} ({error}): run `make up`")


@pytest.fixture
def session_of() -> Iterator:
    made: list[HubSession] = []

    def login(user: str) -> HubSession:
        session = HubSession(user)
        assert session.login().status_code == 200
        made.append(session)
        return session

    yield login
    for session in made:
        if session.server():
            session.stop()


def wait_ready(session: HubSession, deadline_s: float = 90) -> float:
    """Seconds until the session's server is ready (its progress stream; a failed spawn raises at once)."""
    started = time.monotonic()
    session.wait_ready(deadline_s)
    return time.monotonic() - started
