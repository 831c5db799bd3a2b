"""A user's life in the directory, as a centre's engineer and the user see it, with no deploy in between: added
with ldapadd to the users' group and a project's group, they log in through the proxy, get a form offering that
project, spawn, and their kernel runs on a compute node as their directory UID, writing their scratch (made, with
their home, by the controller's sync). Removed from the directory, they are refused at the login, and their
running server is stopped by the sync."""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Iterator

import pytest

from tests.support import directory
from tests.support.docker import on
from tests.support.hubclient import HUB, HubSession
from tests.support.waiting import wait_for

USER, UID = "noether", 20190
PROJECT = "m2000"  # the project's group (gid 3001 in inventories/local)
SYNC_S = 30  # slurm_directory_sync_interval of inventories/local
PEOPLE, GROUPS = f"ou=People,{directory.BASE}", f"ou=Groups,{directory.BASE}"


def jobs_of_uid() -> list[str]:
    """The user's jobs, by UID: a user the hosts no longer resolve cannot be named to squeue."""
    out = on("slurmctld", "squeue --noheader --format='%i %U'").stdout.split("\n")
    return [line.split()[0] for line in out if line.strip() and line.split()[1] == str(UID)]


def crypt_sha512(password: str) -> str:
    return subprocess.run(["openssl", "passwd", "-6", "-stdin"], input=password, capture_output=True, text=True,
                          check=True).stdout.strip()  # fmt: skip


def user_ldif(password: str) -> str:
    """The user and their own group, as an engineer writes them (the seeded users' shape)."""
    entries = [
        {"dn": f"cn={USER},{GROUPS}", "objectClass": ["posixGroup"], "cn": [USER], "gidNumber": [str(UID)]},
        {"dn": f"uid={USER},{PEOPLE}", "objectClass": ["inetOrgPerson", "posixAccount", "shadowAccount"],
         "uid": [USER], "cn": ["Emmy Noether"], "sn": ["Noether"], "uidNumber": [str(UID)], "gidNumber": [str(UID)],
         "homeDirectory": [f"/global/homes/{USER}"], "loginShell": ["/bin/bash"],
         "userPassword": ["{CRYPT}" + crypt_sha512(password)]},
    ]  # fmt: skip
    return "\n".join(
        f"dn: {entry['dn']}\n"
        + "".join(f"{key}: {value}\n" for key, values in entry.items() if key != "dn" for value in values)
        for entry in entries
    )


def ldap(tool: str, ldif: str, *args: str) -> None:
    done = directory.as_admin(tool, *args, ldif=ldif)
    assert done.returncode == 0, done.stderr


def membership(change: str, group: str) -> str:
    return f"dn: cn={group},{GROUPS}\nchangetype: modify\n{change}: memberUid\nmemberUid: {USER}\n\n"


def remove_user() -> None:
    """Out of every group, then the entries (what is already gone is skipped)."""
    for group in ("hpcusers", PROJECT):
        directory.as_admin("ldapmodify", "-c", ldif=membership("delete", group))
    directory.as_admin("ldapdelete", "-c", f"uid={USER},{PEOPLE}", f"cn={USER},{GROUPS}")


@pytest.fixture(scope="module")
def new_user() -> Iterator[str]:
    """The user added to the directory after the deploy; their password. Removed afterwards, whatever happened."""
    remove_user()  # a run stopped half-way may have left them
    password = secrets.token_urlsafe(16)
    ldap("ldapadd", user_ldif(password))
    ldap("ldapmodify", membership("add", "hpcusers") + membership("add", PROJECT))
    try:
        yield password
    finally:
        remove_user()
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

    remove_user()
    again = HubSession(USER, password=new_user)
    again.login()
    assert not again.get(f"{HUB}/hub/home").url.endswith("/hub/home"), "a removed user logged in"

    seconds = wait_for(f"{USER}'s jobs cancelled by the sync", lambda: not jobs_of_uid(), 2 * SYNC_S + 30, 1)
    print(f"server job cancelled {seconds:.0f} s after the user was removed")
