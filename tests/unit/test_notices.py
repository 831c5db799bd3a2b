"""The service's notices (hpchub.notices): announcements on every page, maintenance mode refusing logins and new
servers to all but admins, read from files as they change (no hub restart). The e2e and fault tiers check them
through the proxy, in a browser and with the hub stopped."""

from __future__ import annotations

import asyncio
import json
import os
from types import SimpleNamespace

import pytest
from hpchub import notices
from tornado import web


@pytest.fixture
def service(tmp_path):
    (tmp_path / "deploy").mkdir()
    (tmp_path / "state").mkdir()
    installed = notices.install(str(tmp_path / "deploy"), str(tmp_path / "state"))
    yield installed
    notices.NOTICES = None


def touch_later(path) -> None:
    """A new mtime for a file just rewritten (filesystems with coarse timestamps would keep the old one)."""
    stat = path.stat()
    os.utime(path, (stat.st_atime + 5, stat.st_mtime + 5))


def test_no_files_no_notices(service):
    assert service.as_json() == {"maintenance": None, "announcements": []}
    assert service.page_announcement() == ""


def test_maintenance_follows_its_file_without_a_restart(service):
    path = service.notices_dir / "maintenance.json"
    path.write_text(json.dumps({"message": "Upgrading Slurm", "until": "15:00 CET"}))
    assert service.maintenance() == {"message": "Upgrading Slurm", "until": "15:00 CET"}
    assert service.maintenance_text() == "Maintenance (until 15:00 CET): Upgrading Slurm"
    path.write_text(json.dumps({"message": "Upgrading the hub", "until": ""}))
    touch_later(path)
    assert service.maintenance_text() == "Maintenance: Upgrading the hub"
    path.unlink()
    assert service.maintenance() is None


def test_a_damaged_maintenance_file_is_no_maintenance(service):
    (service.notices_dir / "maintenance.json").write_text("{not json")
    assert service.maintenance() is None


def test_deploy_and_admin_announcements_both_show_escaped(service):
    (service.notices_dir / "announcement.txt").write_text("New GPU nodes <b>today</b>\n")
    service.post("  Scratch purge on Friday  ", "alice")
    found = service.announcements()
    assert [(note["message"], note["by"]) for note in found] == [
        ("New GPU nodes <b>today</b>", "deploy"),
        ("Scratch purge on Friday", "alice"),
    ]
    assert found[1]["at"]
    assert service.page_announcement() == "New GPU nodes &lt;b&gt;today&lt;/b&gt;<br>Scratch purge on Friday"


def test_an_empty_post_clears_the_admins_announcement(service):
    service.post("Scratch purge on Friday", "alice")
    service.post("   ", "alice")
    assert service.announcements() == []
    assert not (service.state_dir / "posted.json").exists()


def test_a_long_announcement_is_cut(service):
    service.post("x" * 5000, "alice")
    assert len(service.announcements()[0]["message"]) == notices.MAX_MESSAGE


def test_maintenance_refuses_users_not_admins(service):
    (service.notices_dir / "maintenance.json").write_text(json.dumps({"message": "Upgrading", "until": "14:00"}))
    with pytest.raises(web.HTTPError) as refused:
        notices.refuse_during_maintenance(SimpleNamespace(name="alice", admin=False), "New servers cannot start")
    assert refused.value.status_code == 503
    assert (
        refused.value.log_message == "New servers cannot start during maintenance. Maintenance (until 14:00): Upgrading"
    )
    notices.refuse_during_maintenance(SimpleNamespace(name="root", admin=True), "New servers cannot start")


def test_logins_are_refused_during_maintenance_but_not_otherwise(service):
    users = {"alice": SimpleNamespace(name="alice", admin=False), "ops": SimpleNamespace(name="ops", admin=True)}
    handler = SimpleNamespace(find_user=users.get)

    def login(name: str):
        return asyncio.run(notices.refuse_logins_during_maintenance(None, handler, {"name": name}))

    assert login("alice") == {"name": "alice"}
    (service.notices_dir / "maintenance.json").write_text(json.dumps({"message": "Upgrading"}))
    with pytest.raises(web.HTTPError, match="Logins are closed during maintenance"):
        login("alice")
    with pytest.raises(web.HTTPError):
        login("newcomer")  # not in the hub's database yet: not an admin
    assert login("ops") == {"name": "ops"}
    assert asyncio.run(notices.refuse_logins_during_maintenance(None, handler, None)) is None  # a failed login


def test_a_hub_without_notices_refuses_nothing():
    notices.NOTICES = None
    notices.refuse_during_maintenance(SimpleNamespace(name="alice", admin=False), "New servers cannot start")
