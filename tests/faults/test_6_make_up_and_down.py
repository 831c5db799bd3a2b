"""Fault 6: `make up` again, `make up` interrupted and run again, `make down && make up`.

Runs last: `make down` removes the cluster (its Slurm state with it); users' homes and the hub's
database are what must survive.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

from tests.support.cluster import check_intact, check_no_orphans, jupyter_jobs, make, start_server
from tests.support.docker import ROOT, docker, on
from tests.support.hubclient import HubSession, hub_healthy, public_get
from tests.support.waiting import wait_for


def containers() -> dict[str, str]:
    """Every container of the project, running or not: name -> id."""
    rows = docker(
        "ps", "--all", "--format", "{{.Names}} {{.ID}}", "--filter", "label=io.github.hpc-jupyterhub-deploy.cluster"
    )
    named = dict(line.split() for line in rows.stdout.splitlines())
    for service in ("jupyterhub", "proxy"):
        named[service] = docker("inspect", "--format", "{{.Id}}", service).stdout.strip()[:12]
    return named


def test_make_up_again_changes_nothing(servers):
    jobs, before = jupyter_jobs(), containers()
    make("up")
    assert containers() == before  # the same containers, none re-created, none added
    check_intact(servers, jobs)


def test_make_up_interrupted_then_run_again_converges(servers):
    jobs, before = jupyter_jobs(), containers()
    run = subprocess.Popen(["make", "-C", str(ROOT), "up"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, start_new_session=True)  # fmt: skip
    assert run.stdout is not None
    for line in run.stdout:  # interrupt it mid-way through configuring the hosts
        if "TASK [slurm :" in line:
            break
    os.killpg(run.pid, signal.SIGINT)  # as a Ctrl-C in a terminal reaches make and everything it runs
    interrupted = time.monotonic()
    run.communicate(timeout=60)  # reads the rest of its output too: a full pipe must not be what holds it
    print(f"make up ended {time.monotonic() - interrupted:.1f} s after the interrupt (exit {run.returncode})")
    assert run.returncode != 0
    make("up")
    after = containers()
    assert sorted(after) == sorted(before)  # no duplicate, none missing
    names = docker("ps", "--all", "--format", "{{.Names}}").stdout.split()
    assert len(names) == len(set(names))
    check_intact(servers, jobs)


def test_make_down_then_up_keeps_homes_and_the_hub_database(servers):
    alice = servers["alice"]
    marker = f"kept-{time.time_ns()}"
    assert alice.session.run_in_kernel(f"open('/global/homes/alice/{marker}', 'w').write('{marker}')\n") == ""
    token = alice.token  # lives in the hub's database
    make("down")
    assert not hub_healthy()
    assert docker("ps", "--quiet", "--filter", "label=io.github.hpc-jupyterhub-deploy.cluster").stdout == ""
    make("up")
    assert on("login", f"cat /global/homes/alice/{marker}").stdout == marker
    assert public_get("/hub/api/user", headers={"Authorization": f"token {token}"}).json()["name"] == "alice"
    # The servers' jobs went with the cluster: the hub shows them stopped, and they start again.
    session = HubSession("alice")
    assert session.login().status_code == 200
    wait_for("alice's lost server shown stopped", lambda: not session.server(), 90, 0.5)
    check_no_orphans()
    again = start_server("alice")
    assert again.answers()
    again.session.stop()
    on("login", f"rm -f /global/homes/alice/{marker}")
