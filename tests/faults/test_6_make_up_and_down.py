"""Fault 6: `make up` interrupted and run again (the run again is also `make up` over a running cluster: the same
containers, every server and job intact), `make down && make up`.

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
from tests.support.hubclient import HubSession, hub_healthy, json_of, public_get
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


def test_admin_rights_follow_the_inventory(servers, tmp_path):
    """An admin removed from jupyterhub_admin_users loses the rights at the next make up (they used to stay).
    The hub's deploy alone (make up limited to the hub host, localhost here): the same jupyterhub role and
    restart handler, without the cluster hosts' roles, which the tests above already run twice."""
    jobs, alice = jupyter_jobs(), servers["alice"]
    dave = HubSession("dave")
    assert dave.login().status_code == 200

    def dave_reaches_alice() -> tuple[bool, bool]:
        """(the hub's API on alice, alice's server through the proxy) answer dave: the hub says 404 when
        dave may not see alice, the server 403. A new token each time: a server caches what the hub said
        of a token for up to 5 min (HubAuth.cache_max_age)."""
        user = dave.api("GET", "/users/alice").status_code
        new = dave.api("POST", "/users/dave/tokens", json={"note": "admin test", "expires_in": 600})
        token = json_of(new)["token"]
        server = public_get("/user/alice/api/status", headers={"Authorization": f"token {token}"},
                            allow_redirects=False).status_code  # fmt: skip
        assert user in (200, 404) and server in (200, 403), (user, server)
        return user == 200, server == 200

    assert dave_reaches_alice() == (False, False)
    overrides = tmp_path / "admins.yml"
    overrides.write_text("jupyterhub_admin_users: [dave]\n")
    try:
        make("up", f"ANSIBLE_ARGS=-e @{overrides} --limit localhost")
        wait_for("the hub back after its restart", hub_healthy, 60, 0.5)
        assert dave_reaches_alice() == (True, True)
    finally:
        make("up", "ANSIBLE_ARGS=--limit localhost")  # the inventory again: erin alone
    wait_for("the hub back after its restart", hub_healthy, 60, 0.5)
    assert dave_reaches_alice() == (False, False)
    check_intact(servers, jobs)
    assert alice.answers()


def test_make_down_then_up_keeps_homes_and_the_hub_database(servers):
    alice = servers["alice"]
    marker = f"kept-{time.time_ns()}"
    assert alice.session.run_in_kernel(f"open('/global/homes/alice/{marker}', 'w').write('{marker}')\n") == ""
    token = alice.token  # lives in the hub's database
    # In the shared partition: the servers' jobs hold every node of the others.
    batch = "sbatch --parsable --wait --partition=interactive --time=1 --chdir=/tmp --output=/dev/null --wrap true"
    job = int(on("login", batch, user="alice").stdout.strip())
    history = f"sacct --noheader -X -j {job} --format=JobID,State,User"
    wait_for(f"job {job} in sacct", lambda: on("slurmctld", history).stdout.split() == [str(job), "COMPLETED", "alice"],
             30, 0.5)  # fmt: skip
    alice_job = next(job for job, user in jupyter_jobs().items() if user == "alice")
    make("down")
    assert not hub_healthy()
    assert docker("ps", "--quiet", "--filter", "label=io.github.hpc-jupyterhub-deploy.cluster=hpclocal").stdout == ""
    make("up")
    assert on("login", f"cat /global/homes/alice/{marker}").stdout == marker
    # Slurm's state and the accounting database are on volumes: the history is kept, job ids go on.
    assert on("slurmctld", history).stdout.split() == [str(job), "COMPLETED", "alice"]
    assert int(on("login", batch, user="alice").stdout.strip()) > job
    assert public_get("/hub/api/user", headers={"Authorization": f"token {token}"}).json()["name"] == "alice"
    # The servers' jobs went with the nodes. slurmctld, its state kept, would end them NODE_FAIL only minutes
    # later, once the new nodes register again; make up has it done before the hub starts (slurm_rebooted_nodes),
    # so the hub shows them stopped at once (it took 90 s after make up before), and they start again.
    session = HubSession("alice")
    assert session.login().status_code == 200
    wait_for("alice's lost server shown stopped", lambda: not session.server(), 30, 0.5)
    assert on("slurmctld", f"sacct --noheader -X -j {alice_job} --format=State").stdout.split() == ["NODE_FAIL"]
    check_no_orphans()
    again = start_server("alice")
    assert again.answers()
    again.session.stop()
    on("login", f"rm -f /global/homes/alice/{marker}")
