"""A user's life in the directory, as a centre's engineer and the user see it, with no deploy in between: added
with ldapadd to the users' group and a project's group, they log in through the proxy, get a form offering that
project, spawn, and their kernel runs on a compute node as their directory UID, writing their scratch (made, with
their home, by the controller's sync). Removed from the directory, they are refused at the login, and their
running server is stopped by the sync."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from tests.support import directory
from tests.support.docker import on
from tests.support.hubclient import HUB, HubSession
from tests.support.waiting import wait_for

USER, UID = "noether", 20190
PROJECT = "m2000"  # the project's group (gid 3001 in inventories/local)
SYNC_S = 30  # slurm_directory_sync_interval of inventories/local
GROUPS = ("hpcusers", PROJECT)


def jobs_of_uid() -> list[str]:
    """The user's jobs, by UID: a user the hosts no longer resolve cannot be named to squeue."""
    out = on("slurmctld", "squeue --noheader --format='%i %U'").stdout.split("\n")
    return [line.split()[0] for line in out if line.strip() and line.split()[1] == str(UID)]


@pytest.fixture(scope="module")
def new_user() -> Iterator[str]:
    """The user added to the directory after the deploy; their password. Removed afterwards, whatever happened."""
    directory.remove_user(USER, GROUPS)  # a run stopped half-way may have left them
    password = secrets.token_urlsafe(16)
    directory.add_user(USER, UID, password, GROUPS)
    try:
        # Known to the hub once its SSSD asks the directory: at once, unless the hub looked the name up in the last
        # 15 s and cached "no such user" (entry_negative_timeout; the hub looks up every user of its database when
        # it starts, this one included when an earlier run left it there).
        resolved = lambda: on("jupyterhub", f"getent passwd {USER}").returncode == 0  # noqa: E731
        seconds = wait_for(f"the hub resolves {USER}", resolved, 30, 0.5)
        print(f"the hub resolved {USER} {seconds:.1f} s after ldapadd")
        yield password
    finally:
        directory.remove_user(USER, GROUPS)
        on("slurmctld", f"scancel --user={USER}; sacctmgr -i delete user {USER}")


def test_a_new_directory_user_spawns_as_their_uid_within_a_sync(new_user):
    session = HubSession(USER, password=new_user)
    # The login works at once (SSSD asks the directory); the project appears with the next sync.
    assert session.login().status_code == 200
    assert session.get(f"{HUB}/hub/home").url.endswith("/hub/home"), "the login was refused"

    def offered() -> bool:
        return f'value="{PROJECT}"' in session.get(f"{HUB}/hub/spawn/{USER}").text

    seconds = wait_for(f"{PROJECT} offered to {USER}", offered, 2 * SYNC_S + 30, 1)
    print(f"project offered {seconds:.0f} s after the user was added")

    home = on("login", f"stat -c '%u %g %a' /global/homes/{USER} /global/scratch/{USER}").stdout.split("\n")
    assert home[:2] == [f"{UID} {UID} 700"] * 2, home

    reply = session.api("POST", f"/users/{USER}/server", json={"partition": "debug", "account": PROJECT})
    assert reply.status_code in (201, 202), reply.text[:300]
    session.wait_ready(120)
    out = session.run_in_kernel(
        "import os, socket, pathlib\n"
        "p = pathlib.Path(os.environ['SCRATCH']) / 'hello'\n"
        "p.write_text('from the directory')\n"
        "print(os.getuid(), os.getgid(), socket.gethostname(), p)"
    )
    uid, gid, host, path = out.split()
    assert (uid, gid) == (str(UID), str(UID)) and host in ("c1", "c2"), out
    assert path == f"/global/scratch/{USER}/hello"
    assert on("login", f"stat -c %u {path}").stdout.strip() == str(UID)


def test_a_user_removed_from_the_directory_is_refused_and_their_server_stopped(new_user):
    session = HubSession(USER, password=new_user)
    assert session.login().status_code == 200
    if not session.server():
        reply = session.api("POST", f"/users/{USER}/server", json={"partition": "debug", "account": PROJECT})
        assert reply.status_code in (201, 202), reply.text[:300]
        session.wait_ready(120)
    assert jobs_of_uid()

    directory.remove_user(USER, GROUPS)
    again = HubSession(USER, password=new_user)
    again.login()
    assert not again.get(f"{HUB}/hub/home").url.endswith("/hub/home"), "a removed user logged in"

    seconds = wait_for(f"{USER}'s jobs cancelled by the sync", lambda: not jobs_of_uid(), 2 * SYNC_S + 30, 1)
    print(f"server job cancelled {seconds:.0f} s after the user was removed")
