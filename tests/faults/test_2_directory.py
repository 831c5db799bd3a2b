"""The directory's faults: slapd stopped for 60 s while users work, and SSSD restarted on a compute node under a
running server. Running servers keep answering; SSSD's cache keeps known users resolving on the nodes and logging
in at the hub, and a user SSSD holds no password for is told that the directory is not answering (not that their
password is wrong); the controller's sync changes nothing it cannot read; back up, everything works as before."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator

import pytest

from tests.support import directory
from tests.support.cluster import check_intact, jupyter_jobs
from tests.support.docker import on
from tests.support.hubclient import HubSession
from tests.support.waiting import wait_for

OUTAGE_S = 60
DIRECTORY = "ldap"  # the local cluster's directory host


NEWCOMER, NEWCOMER_UID = "curie", 20198  # in the directory, known to the hub's SSSD, never logged in
GROUPS = ("hpcusers", "m1000")


@pytest.fixture
def newcomer() -> Iterator[str]:
    """A directory user the hub's SSSD has resolved but holds no password for; their password."""
    directory.remove_user(NEWCOMER, GROUPS)
    password = secrets.token_urlsafe(16)
    directory.add_user(NEWCOMER, NEWCOMER_UID, password, GROUPS)
    try:
        wait_for(f"{NEWCOMER} known to the hub", lambda: on("jupyterhub", f"id -u {NEWCOMER}").returncode == 0, 30, 1)
        yield password
    finally:
        directory.remove_user(NEWCOMER, GROUPS)
        on(
            "slurmctld",
            f"sacctmgr -i delete user {NEWCOMER}; rm -rf /global/homes/{NEWCOMER} /global/scratch/{NEWCOMER}",
        )


def associations() -> str:
    out = on("slurmctld", "sacctmgr --noheader --parsable2 show assoc format=account,user | sort")
    assert out.returncode == 0, out.stderr
    return out.stdout


def logs_in(user: str, password: str | None = None) -> bool:
    return HubSession(user, password=password).logs_in()


def test_the_directory_down_60_s_stops_no_server_and_known_users_still_log_in(servers, newcomer):
    jobs_before = jupyter_jobs()
    nodes = sorted({on("slurmctld", f"squeue -h -j {job} -o %N").stdout.strip() for job in jobs_before})
    known = associations()
    assert logs_in("alice")  # alice is known to the hub's SSSD: her password is in its cache
    on(DIRECTORY, "systemctl stop slapd")
    try:
        ends = time.monotonic() + OUTAGE_S
        checks = 0
        while time.monotonic() < ends:  # the outage lasts its 60 s; what users do meanwhile keeps working
            for server in servers.values():
                assert server.answers(), f"{server.user}'s server stopped answering with the directory down"
            for node in nodes:
                assert on(node, "id -u alice").stdout.strip() == "20001", f"alice unknown on {node}"
            checks += 1
        assert logs_in("alice"), "a known user could not log in with the directory down"
        assert checks > 0
        told = HubSession(NEWCOMER, password=newcomer).login()
        assert told.status_code == 503 and "directory of users is not answering" in told.text, told.text[:500]
    finally:
        on(DIRECTORY, "systemctl start slapd")
    # The sync ran at least once during the outage: it removed no association it could not read.
    assert associations() == known
    # Back: SSSD goes online again by itself (offline_timeout_max, 60 s): a login it holds no password for works.
    seconds = wait_for("a login that needs the directory", lambda: logs_in(NEWCOMER, newcomer), 90, 2)
    print(f"the directory's users log in again {seconds:.0f} s after it is back")
    assert logs_in("bob")
    check_intact(servers, jobs_before)


def test_sssd_restarted_on_a_node_under_a_running_server(servers):
    jobs_before = jupyter_jobs()
    bob = servers["bob"]
    job = next(job for job, user in jobs_before.items() if user == "bob")
    node = on("slurmctld", f"squeue -h -j {job} -o %N").stdout.strip()
    assert on(node, "systemctl restart sssd").returncode == 0
    out = bob.session.run_in_kernel("import os, pwd; print(pwd.getpwuid(os.getuid()).pw_name)")
    assert out.strip() == "bob"
    check_intact(servers, jobs_before)
