"""End-to-end: the hub as users reach it, through the proxy (HTTPS, 127.0.0.1:8443), against what `make up` started."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from tests.support.browser import BrowserMissing, chromium
from tests.support.hubclient import HUB, HubSession, public_get


@pytest.fixture(scope="session", autouse=True)
def hub_is_up() -> None:
    try:
        public_get("/hub/health", timeout=5).raise_for_status()
    except requests.RequestException as error:
        pytest.fail(f"no hub at {HUB} ({error}): run `make up`")


def _sessions() -> Iterator:
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


@pytest.fixture
def session_of() -> Iterator:
    """Log a user in; their server is stopped after the test."""
    yield from _sessions()


@pytest.fixture(scope="module")
def session_of_module() -> Iterator:
    """Log a user in; their server is stopped after the module's tests."""
    yield from _sessions()


@pytest.fixture
def browser() -> Iterator:
    """A headless chromium that trusts the local cluster's certificate (tests/support/browser.py); quit after use."""
    try:
        with chromium() as chrome:
            yield chrome
    except BrowserMissing as missing:
        pytest.fail(str(missing))


@pytest.fixture(scope="module")
def alice(session_of_module) -> HubSession:
    """alice logged in, her server running in the shared partition (jobs she submits from it start beside it)."""
    session = session_of_module("alice")
    reply = session.api("POST", "/users/alice/server", json={"partition": "interactive"})
    assert reply.status_code in (201, 202), reply.text[:300]
    session.wait_ready(120)
    return session
