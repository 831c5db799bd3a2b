"""Logins with users in the directory (issue 28): what PAM + SSSD cost against local accounts, many logins at once,
and a new directory user's first spawn against an existing user's.

- PAM, side by side in the hub's container, as the hub calls it (pamela, in one Python process, as the hub's user):
  alice through SSSD (the directory) and a local account of the container's own files (pam_unix), alternated
  round by round; the ratio is the median of the rounds' ratios. SSSD authenticates a user online against the
  directory every time (a bind), and resolves the user from its cache.
- the whole login through the proxy (the form's POST to the hub's redirect), alice;
- N simulated users (bench01..) logging in at once: failures and latency;
- a user added to the directory now: their first spawn (request to ready, once the sync has given them their
  project) against alice's, same place and size.
Every wait has a deadline.
"""

from __future__ import annotations

import json
import secrets
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench.stats import summary
from tests.support import directory
from tests.support.docker import on
from tests.support.hubclient import HUB, PASSWORDS, HubSession
from tests.support.waiting import wait_for

LOCAL_USER = "benchlocal"  # made in the hub container's own files for the run, removed after
NEW_USER, NEW_UID = "benchnewton", 20199
SPAWN = {"partition": "interactive", "account": "m1000", "cpus": "1", "memory": "200", "time": "20"}

# Run in the hub's container as its user: PAM as the hub calls it, alternating the two users each round.
PAM_ROUNDS = """
import json, sys, time, pamela
users = json.loads(sys.stdin.read())
out = {name: [] for name in users}
for _ in range(int(sys.argv[1])):
    for name, password in users.items():
        started = time.perf_counter()
        pamela.authenticate(name, password, service="login")
        out[name].append(time.perf_counter() - started)
print(json.dumps(out))
"""


def pam_side_by_side(rounds: int) -> dict[str, list[float]]:
    password = secrets.token_urlsafe(16)
    made = on("jupyterhub", f"useradd --no-create-home --shell /usr/sbin/nologin {LOCAL_USER} && "
                            f"chpasswd -c SHA512 -s 5000", stdin=f"{LOCAL_USER}:{password}\n")  # fmt: skip
    assert made.returncode == 0, made.stderr
    try:
        users = {"alice": (PASSWORDS / "alice").read_text().strip(), LOCAL_USER: password}
        script = f"cd /tmp && /opt/jupyterhub/bin/python -c '{PAM_ROUNDS}' {rounds}"
        done = on("jupyterhub", script, user="jupyterhub", stdin=json.dumps(users))
        assert done.returncode == 0, done.stderr
        times: dict[str, list[float]] = json.loads(done.stdout)
        return {"sssd": times["alice"], "local": times[LOCAL_USER]}
    finally:
        on("jupyterhub", f"userdel {LOCAL_USER}")


def login_through_proxy(rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        session = HubSession("alice")
        started = time.monotonic()
        assert session.login().status_code == 200
        times.append(time.monotonic() - started)
        session.close()
    return times


def concurrent_logins(users: int) -> dict[str, Any]:
    names = [f"bench{number:02d}" for number in range(1, users + 1)]
    known = [name for name in names if (PASSWORDS / name).exists()]

    def one(name: str) -> float | None:
        session = HubSession(name)
        started = time.monotonic()
        try:
            return time.monotonic() - started if session.logs_in() else None
        except OSError:
            return None
        finally:
            session.close()

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=max(1, len(known))) as pool:
        results = list(pool.map(one, known))
    wall = time.monotonic() - started
    done = [r for r in results if r is not None]
    return {"users": len(known), "failures": len(results) - len(done), "latency": summary(done), "wall_s": wall}


def spawn_s(session: HubSession) -> float:
    started = time.monotonic()
    reply = session.api("POST", f"/users/{session.user}/server", json=SPAWN)
    assert reply.status_code in (201, 202), reply.text[:300]
    session.wait_ready(120)
    seconds = time.monotonic() - started
    session.stop(deadline_s=90)
    return seconds


def first_spawn_of_a_new_user(say: Callable[[str], None]) -> dict[str, float]:
    groups = ("hpcusers", "m1000")
    directory.remove_user(NEW_USER, groups)
    password = secrets.token_urlsafe(16)
    directory.add_user(NEW_USER, NEW_UID, password, groups)
    try:
        new = HubSession(NEW_USER, password=password)
        assert new.login().status_code == 200

        def offered() -> bool:
            return 'value="m1000"' in new.get(f"{HUB}/hub/spawn/{NEW_USER}").text

        waited = wait_for("the sync's association", offered, 90, 1)
        say(f"   the new user's project offered {waited:.0f} s after the login")
        first = spawn_s(new)
        alice = HubSession("alice")
        assert alice.login().status_code == 200
        if alice.server():
            alice.stop(deadline_s=90)
        return {"new_user_first_spawn_s": first, "existing_user_spawn_s": spawn_s(alice), "project_after_s": waited}
    finally:
        directory.remove_user(NEW_USER, groups)
        on("slurmctld", f"scancel --user={NEW_USER}; sacctmgr -i delete user {NEW_USER}")
        on("slurmctld", f"rm -rf /global/homes/{NEW_USER} /global/scratch/{NEW_USER}")


def measure(rounds: int, say: Callable[[str], None]) -> dict[str, Any]:
    pam = pam_side_by_side(rounds * 10)
    ratios = [s / local for s, local in zip(pam["sssd"], pam["local"], strict=True)]
    say(f"   PAM: sssd {statistics.median(pam['sssd']) * 1000:.1f} ms, local "
        f"{statistics.median(pam['local']) * 1000:.1f} ms")  # fmt: skip
    proxy = login_through_proxy(rounds * 2)
    many = concurrent_logins(50)
    say(f"   {many['users']} logins at once: {many['failures']} failed")
    return {
        "pam_samples": pam,
        "pam": {name: summary(values) for name, values in pam.items()},
        "pam_ratio": statistics.median(ratios),
        "login_through_proxy": summary(proxy),
        "concurrent": many,
        "spawn": first_spawn_of_a_new_user(say),
    }
