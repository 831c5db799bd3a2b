"""The audit trail (hpchub.audit): one JSON line per event, the right actor for each, nothing secret, rotated.
The e2e tier (tests/e2e/test_operations.py) reads the real hub's trail after real logins, spawns and stops."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from hpchub import audit


@pytest.fixture
def trail(tmp_path):
    path = tmp_path / "log/audit.jsonl"
    audit.install(str(path), max_bytes=10_000, files=2)
    yield path
    for handler in list(audit.LOGGER.handlers):
        audit.LOGGER.removeHandler(handler)
        handler.close()


def lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def request(method: str, path: str, status: int, user=None, form=None, ip="10.0.0.7"):
    form = form or {}
    return SimpleNamespace(
        request=SimpleNamespace(method=method, path=path, remote_ip=ip),
        get_status=lambda: status,
        settings={"base_url": "/"},
        _jupyterhub_user=user,
        get_body_argument=lambda name, default=None: form.get(name, default),
    )


ALICE = SimpleNamespace(name="alice", kind="user", admin=False)
ROOT = SimpleNamespace(name="ops", kind="user", admin=True)
CULLER = SimpleNamespace(name="idle-culler", kind="service", admin=False)


def test_logins_and_failures_with_their_address_never_the_password(trail):
    audit.record_request(request("POST", "/hub/login", 302, user=ALICE, form={"username": "alice", "password": "pw1"}))
    audit.record_request(request("POST", "/hub/login", 403, form={"username": "alice", "password": "Wrong-2"}))
    assert [(e["event"], e["user"], e["address"]) for e in lines(trail)] == [
        ("login", "alice", "10.0.0.7"),
        ("login_failed", "alice", "10.0.0.7"),
    ]
    assert "pw1" not in trail.read_text() and "Wrong-2" not in trail.read_text()


@pytest.mark.parametrize(
    ("who", "kind"), [(ALICE, "user"), (ROOT, "admin"), (CULLER, "service")], ids=["user", "admin", "culler"]
)
def test_a_stop_names_who_asked(trail, who, kind):
    audit.record_request(request("DELETE", "/hub/api/users/alice/servers/gpu", 204, user=who))
    (entry,) = lines(trail)
    assert (entry["event"], entry["actor"], entry["actor_kind"], entry["user"], entry["server"]) == (
        "stop_request", who.name, kind, "alice", "gpu")  # fmt: skip


def test_spawns_tokens_and_shares_from_the_rest_api(trail):
    audit.record_request(request("POST", "/hub/api/users/alice/server", 202, user=ALICE))
    audit.record_request(request("POST", "/hub/api/users/alice/tokens", 201, user=ALICE))
    audit.record_request(request("POST", "/hub/api/shares/alice/", 200, user=ALICE))
    audit.record_request(request("POST", "/hub/api/share-codes/alice/gpu", 200, user=ALICE))
    assert [(e["event"], e["user"], e.get("server")) for e in lines(trail)] == [
        ("spawn_request", "alice", None),
        ("token_created", "alice", None),
        ("share_granted", "alice", None),
        ("share_code_created", "alice", "gpu"),
    ]


def test_refused_and_unrelated_requests_write_nothing(trail):
    audit.record_request(request("DELETE", "/hub/api/users/bob/server", 403, user=ALICE))  # not hers to stop
    audit.record_request(request("GET", "/hub/api/users/alice", 200, user=ALICE))
    audit.record_request(request("GET", "/hub/login", 200))
    assert not trail.exists() or trail.read_text() == ""


def test_under_a_base_url(trail):
    handler = request("DELETE", "/jupyter/hub/api/users/alice/server", 204, user=ROOT)
    handler.settings["base_url"] = "/jupyter/"
    audit.record_request(handler)
    assert lines(trail)[0]["event"] == "stop_request"


def test_admin_rights_given_and_taken_by_a_deploy(trail, tmp_path):
    state = tmp_path / "log/admins.json"
    audit.record_admins(["ops"], state)
    audit.record_admins(["ops"], state)  # a restart with the same list: nothing
    audit.record_admins(["dave"], state)
    assert [(e["event"], e["user"], e["actor"]) for e in lines(trail)] == [
        ("admin_granted", "ops", "deploy"),
        ("admin_granted", "dave", "deploy"),
        ("admin_revoked", "ops", "deploy"),
    ]


def test_spawner_events_and_rotation(trail):
    for job in range(200):
        audit.event("server_started", user="alice", server=None, job_id=str(job), node="c1", place="interactive")
    rotated = sorted(path.name for path in trail.parent.iterdir())
    assert rotated == ["audit.jsonl", "audit.jsonl.1", "audit.jsonl.2"]
    assert {oct(path.stat().st_mode & 0o777) for path in trail.parent.iterdir()} == {"0o640"}  # no one else
    entry = lines(trail)[-1]
    assert entry["event"] == "server_started" and "server" not in entry and entry["time"].endswith("Z")


def test_a_failing_record_never_fails_the_request(trail, monkeypatch):
    monkeypatch.setattr(audit, "upstream_log_request", lambda handler: None)
    broken = request("POST", "/hub/login", 302)
    broken.get_status = lambda: 1 / 0
    audit.log_request(broken)  # logged as an error, not raised


def test_tornado_settings_keep_the_sites_others():
    settings = audit.tornado_settings({"cookie_options": {"secure": True}})
    assert settings["log_function"] is audit.log_request and settings["cookie_options"] == {"secure": True}
