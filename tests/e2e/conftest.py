"""End-to-end: the hub as users reach it, through the proxy (HTTPS, 127.0.0.1:8443), against what `make up` started."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from tests.support.hubclient import HUB, HubSession, public_get


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
