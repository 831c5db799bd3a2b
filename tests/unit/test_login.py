"""The hub's login (hpchub.login): PAM as upstream's authenticator calls it, but a directory that does not answer
is told apart from a wrong password."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pamela
import pytest
from hpchub.login import DIRECTORY_DOWN, DirectoryPAMAuthenticator
from tornado.web import HTTPError


@pytest.fixture
def pam(monkeypatch) -> list[tuple[Any, ...]]:
    """PAM's answers, set per test: the calls made are recorded."""
    calls: list[tuple[Any, ...]] = []
    monkeypatch.setattr(pamela, "authenticate", lambda *args, **kwargs: calls.append(("auth", args, kwargs)))
    monkeypatch.setattr(pamela, "check_account", lambda *args, **kwargs: calls.append(("account", args, kwargs)))
    return calls


def login(data: dict[str, str]) -> str | None:
    async def in_the_hubs_loop() -> str | None:
        return await DirectoryPAMAuthenticator().authenticate(None, data)

    return asyncio.run(in_the_hubs_loop())


def failing(errno: int):
    def fail(*_: Any, **__: Any) -> None:
        raise pamela.PAMError(errno=errno)

    return fail


def test_a_good_password_logs_in_through_the_hubs_own_pam_service(pam):
    assert login({"username": "alice", "password": "pw"}) == "alice"
    assert pam[0] == ("auth", ("alice", "pw"), {"service": "jupyterhub", "encoding": "utf8"})
    assert pam[1][0] == "account"


def test_a_one_time_code_is_pams_second_answer(pam):
    login({"username": "alice", "password": "pw", "otp": "123456"})
    assert pam[0][1] == ("alice", ("pw", "123456"))


def test_a_wrong_password_is_a_plain_refusal(monkeypatch):
    monkeypatch.setattr(pamela, "authenticate", failing(7))  # PAM_AUTH_ERR
    assert login({"username": "alice", "password": "wrong"}) is None


def test_a_directory_that_does_not_answer_is_said_so(monkeypatch):
    monkeypatch.setattr(pamela, "authenticate", failing(9))  # PAM_AUTHINFO_UNAVAIL, from pam_sss offline
    monkeypatch.setattr("hpchub.login.time.sleep", lambda _: None)  # asked again 4 times first
    with pytest.raises(HTTPError) as said:
        login({"username": "alice", "password": "pw"})
    assert (said.value.status_code, said.value.log_message) == (503, DIRECTORY_DOWN)


def test_a_refusal_while_the_directory_does_not_answer_is_said_so(monkeypatch):
    # Offline, pam_sss refuses a user it holds no password for with PAM_PERM_DENIED, as it refuses anything.
    monkeypatch.setattr(pamela, "authenticate", failing(6))
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))  # a port nothing listens on
    port = closed.getsockname()[1]
    closed.close()
    authenticator = DirectoryPAMAuthenticator(directory_uri=f"ldap://127.0.0.1:{port}")

    async def in_the_hubs_loop() -> str | None:
        return await authenticator.authenticate(None, {"username": "alice", "password": "pw"})

    with pytest.raises(HTTPError) as said:
        asyncio.run(in_the_hubs_loop())
    assert said.value.status_code == 503
    with socket.socket() as listening:  # the directory answers: a plain refusal
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        authenticator.directory_uri = f"ldap://127.0.0.1:{listening.getsockname()[1]}"
        assert asyncio.run(in_the_hubs_loop()) is None


def test_a_directory_unavailable_for_a_moment_is_asked_again(monkeypatch):
    # In the seconds after the hub starts, SSSD answers PAM_AUTHINFO_UNAVAIL while it connects.
    answers = [pamela.PAMError(errno=9), pamela.PAMError(errno=9), None]

    def flaky(*_: Any, **__: Any) -> None:
        answer = answers.pop(0)
        if answer:
            raise answer

    monkeypatch.setattr(pamela, "authenticate", flaky)
    monkeypatch.setattr(pamela, "check_account", lambda *_, **__: None)
    monkeypatch.setattr("hpchub.login.time.sleep", lambda _: None)
    assert login({"username": "alice", "password": "pw"}) == "alice"
    assert answers == []


def test_a_refused_account_is_a_plain_refusal(pam, monkeypatch):
    monkeypatch.setattr(pamela, "check_account", failing(13))  # PAM_ACCT_EXPIRED
    assert login({"username": "alice", "password": "pw"}) is None
