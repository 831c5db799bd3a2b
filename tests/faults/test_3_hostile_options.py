"""Hostile spawn requests (7): hundreds of generated `user_options`, through REST and the form.

Each is refused with 400 and submits nothing, or is accepted with safe values only: the text of every
batch script Slurm received is checked line by line against a clean spawn's script.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.support.cluster import USERS
from tests.support.docker import on
from tests.support.hubclient import HubSession

USER = "erin"  # projects: m1000 only (m2000 is bob's and dave's)
FIELDS = ("place", "environment", "partition", "account", "qos", "nodes", "cpus", "memory", "time", "gpus",
          "reservation")  # fmt: skip
TEXTS = [
    "1\n#SBATCH --uid=0", "debug\n#SBATCH --wrap=id", "m1000\r#SBATCH --uid=0", "debug\x00", "$(id)", "`id`",
    "; touch /tmp/pwned", "| cat /etc/shadow", "&& id", "${HOME}", "' OR 1=1 --", '"', "\\", "debug #SBATCH --uid=0",
    "m1000 --uid=0", "--uid=0", "-1", "0", "99999999999999999999", "1e9", "0x10", "1.5", "NaN", "inf",
    "\uff11", "\u0663", "\uff44\uff45\uff42\uff55\uff47", "débug", "deb\u200bug", "\u202edebug", "a" * 5000,
    "%j", "../../etc/passwd", "m2000",
    "m1000,m2000", "debug,interactive", "*", "ALL", "root", "2-", "1:2:3:4", "4096Q", "9999999999T",
]  # fmt: skip
JSON_ONLY = [True, None, [], {}, ["debug", "interactive"], 1.5, -1, 10**30, {"$ne": ""}]
UNKNOWN_KEYS = [
    {"command": "bash"}, {"cmd": "id"}, {"batch_script": "#!/bin/sh\nid"}, {"exec_prefix": "sudo -u root"},
    {"batch_submit_cmd": "bash -c id"}, {"req_srun": "id;"}, {"username": "root"}, {"homedir": "/root"},
    {"keepvars": "LD_PRELOAD"}, {"__class__": "x"}, {"partition ": "debug"}, {"PARTITION": "debug"},
    {"constraint": "gpu"}, {"nodelist": "c1"}, {"bench_profile": "stock"},
]  # fmt: skip
BLANKS = [{"cpus": ""}, {"partition": "  "}]  # blank means the default: accepted, with safe values
REQUESTS: list[dict[str, Any]] = [
    *({field: text} for field, text in itertools.product(FIELDS, TEXTS)),
    *({field: value} for field, value in itertools.product(FIELDS, JSON_ONLY)),
    *UNKNOWN_KEYS,
    *BLANKS,
]
CHECK_EVERY = 50  # refusals between two reads of Slurm's accounting (each is a docker exec and an sacct)
SAFE_DIRECTIVE = re.compile(r"^#SBATCH --(partition|account|qos|nodes|cpus-per-task|mem|time|gres|reservation)"
                            r"=[A-Za-z0-9_.:-]{1,64}$")  # fmt: skip


def test_there_are_at_least_200_hostile_requests():
    assert len(REQUESTS) >= 200


@pytest.fixture(scope="module")
def erin() -> Iterator[HubSession]:
    """erin, on a cluster with no other server: an accepted spawn (default partition) starts at once."""
    for user in (*USERS, USER):
        session = HubSession(user)
        assert session.login().status_code == 200
        if session.server():
            session.stop()
    yield session
    if session.server():  # a failed check must not leave erin's server holding a node for the tests after
        session.stop()


def accounted() -> list[str]:
    out = on("slurmctld", f"sacct --noheader -X --user={USER} --starttime=now-1days --format=jobid")
    return out.stdout.split()


def batch_script_of_the_new_job(session: HubSession, known: list[str], refused: list[str] | None = None) -> str:
    """The batch script of the one job submitted since `known`: the accepted spawn's. A second new job would be
    one of the `refused` requests' (the accepted spawn may already be in Slurm when its 202 comes back, so
    the refusals are checked here, not before)."""
    session.wait("the accepted spawn's job", lambda: bool(set(accounted()) - set(known)), 30, 0.2)
    new = sorted(set(accounted()) - set(known), key=int)
    assert len(new) == 1, f"jobs {new} for one accepted spawn: one of these refused requests submitted a job: {refused}"
    (job,) = new
    script = on("slurmctld", f"scontrol write batch_script {job} -")
    assert script.returncode == 0, script.stderr
    session.wait(f"{USER}'s spawn settled", lambda: not session.server().get("pending"), 120, 0.2)
    if session.server():
        session.stop()
    return script.stdout


# The local inventory sets jupyterhub_bench_profiles (make bench): bench_profile=stock swaps in the stock launcher.
STOCK_LAUNCHER = "/opt/jupyter/bin/batchspawner-singleuser /opt/jupyter/bin/jupyterhub-singleuser"


def unsafe_lines(script: str, clean: str) -> list[str]:
    """Lines that are neither the clean script's (or the hub's other launcher) nor a directive with a plain value."""
    known = {*clean.splitlines(), STOCK_LAUNCHER}
    return [line for line in script.splitlines() if line not in known and not SAFE_DIRECTIVE.match(line)]


def send(session: HubSession, channel: str, options: dict[str, Any]) -> requests.Response:
    if channel == "form":
        return session.submit_form(**options)
    return session.api("POST", f"/users/{USER}/server", json={"user_options": options})


def test_hostile_requests_are_refused_or_submit_only_safe_scripts(erin):
    before = accounted()
    assert erin.api("POST", f"/users/{USER}/server", json={"user_options": {}}).status_code in (201, 202)
    clean = batch_script_of_the_new_job(erin, before)
    assert clean.startswith("#!/bin/bash\n") and "#SBATCH --account=m1000" in clean

    refused = accepted = 0
    scripts: list[str] = []
    known = accounted()
    window: list[str] = []  # the refusals since Slurm's accounting was last compared
    for options in REQUESTS:
        channels = ["REST", "form"] if all(isinstance(value, str) for value in options.values()) else ["REST"]
        for channel in channels:
            reply = send(erin, channel, options)
            if reply.status_code == 400:
                refused += 1
                window.append(f"{channel} {options!r:.60}")
                if len(window) == CHECK_EVERY:  # one sacct per 50 refusals, not two per request (2,000 in all)
                    assert accounted() == known, f"one of these refused requests submitted a job: {window}"
                    window.clear()
                continue
            assert reply.status_code in (200, 201, 202), f"{channel} {options!r:.80}: {reply.status_code}"
            accepted += 1
            scripts.append(batch_script_of_the_new_job(erin, known, window))
            window.clear()
            known = accounted()
            assert not unsafe_lines(scripts[-1], clean), (
                f"{channel} {options!r:.80}: {unsafe_lines(scripts[-1], clean)}"
            )
    print(f"{len(REQUESTS)} hostile requests, {refused} refusals (REST and form), {accepted} accepted and checked")
    assert accepted >= len(BLANKS)  # the blanks at least, through both channels
    assert len(accounted()) == len(before) + 1 + accepted  # nothing else reached Slurm
