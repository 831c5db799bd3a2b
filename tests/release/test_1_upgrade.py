"""The last release, deployed from its own checkout and images, upgraded in place by this checkout's `make up`.

Before: servers of alice and bob run, and bob's workflow waits at a gate. During the upgrade both servers are
polled through the proxy every 0.2 s: the longest time each did not answer is the figure the note gives. After:
the hub runs this release's image on its database at JupyterHub's newest schema, a copy of the database taken
before the new image opened it; the same servers answer on the same jobs; the workflow, approved, runs its later
step; sacct still has the jobs from before; a new spawn works; a second `make up` changes nothing.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.infra.test_idempotence import changed_tasks
from tests.release.conftest import LAST, THIS, Story, checkout_of, timed_make, tooling_env
from tests.support.cluster import Server, check_no_orphans, jupyter_jobs, start_server
from tests.support.docker import docker, on
from tests.support.hubclient import HubSession
from tests.support.waiting import wait_for

USERS = ("alice", "bob")
WORK = "/global/homes/bob/upgrade-test"
GATED = """
name: across-the-upgrade
defaults: {partition: interactive, account: m1000, time: 30, memory: 500M}
steps:
  before: {command: "echo before > before.txt"}
  review: {gate: true, after: [before]}
  after: {command: "echo after > after.txt", after: [review]}
"""


def hub_image() -> str:
    return docker("inspect", "--format", "{{.Config.Image}}", "jupyterhub").stdout.strip()


def as_bob(command: str) -> tuple[int, str]:
    done = on("login", f"mkdir -p {WORK} && cd {WORK} && {command}", user="bob", login=True)
    return done.returncode, done.stdout + done.stderr


def workflow_steps(run: str) -> dict[str, str]:
    code, out = as_bob(f"hpc-workflow status --json {run}")
    assert code == 0, out
    return {step["name"]: step["state"] for step in json.loads(out)["steps"]}


def in_the_hub(code: str) -> str:
    """Python run by the hub's own interpreter in its container (its JupyterHub, its database)."""
    done = docker("exec", "-w", "/srv/jupyterhub", "jupyterhub", "/opt/jupyterhub/bin/python", "-c", code)
    return done.stdout.strip()


def utc(seconds: float) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(seconds))


class Outages:
    """Polls servers through the proxy until stopped: each one's longest run of failed polls, in seconds."""

    def __init__(self, servers: dict[str, Server]) -> None:
        self.servers, self.longest = servers, dict.fromkeys(servers, 0.0)
        self.when: dict[str, str] = {}  # the longest outage's first and last failed poll, UTC, for the logs
        self.failed = dict.fromkeys(servers, 0)  # polls that failed, in all
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.poll, daemon=True)

    def poll(self) -> None:
        down_since: dict[str, float | None] = dict.fromkeys(self.servers)
        while not self.stop.is_set():
            for user, server in self.servers.items():
                now = time.monotonic()
                if server.answers():
                    down_since[user] = None
                else:
                    self.failed[user] += 1
                    since = down_since[user] = down_since[user] or now
                    if time.monotonic() - since >= self.longest[user]:
                        self.longest[user] = time.monotonic() - since
                        self.when[user] = f"{utc(time.time() - (time.monotonic() - since))} to {utc(time.time())}"
            self.stop.wait(0.2)

    def __enter__(self) -> Outages:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=30)


@pytest.fixture(scope="module")
def old(story: Story) -> None:
    """The local cluster removed (containers, volumes, secrets), then the last release's make up."""
    timed_make(story, "make clean (before)", "clean", "KEEP_IMAGES=1")
    checkout = checkout_of(LAST)
    timed_make(story, f"make up of {LAST.version} (its images built)", "up", cwd=checkout, env=tooling_env(checkout))


def test_the_last_release_runs(old, story):
    assert hub_image().endswith(f":{LAST.version}")
    assert LAST.version != THIS


def test_servers_and_a_workflow_run_before_the_upgrade(old, story):
    with ThreadPoolExecutor(max_workers=len(USERS)) as pool:
        story.seen["servers"] = dict(zip(USERS, pool.map(start_server, USERS), strict=True))
    story.seen["jobs"] = jupyter_jobs()
    on("login", f"rm -rf {WORK}", user="bob")
    code, out = as_bob(f"cat > gated.yaml <<'EOF'\n{GATED}\nEOF\nhpc-workflow submit gated.yaml")
    assert code == 0, out
    (run,) = [line for line in out.splitlines() if line.startswith("/") and "/workflows/" in line]
    wait_for("the step before the gate", lambda: workflow_steps(run)["before"] == "COMPLETED", 90, 1)
    assert workflow_steps(run)["review"] == "WAITING FOR APPROVAL"
    story.seen["workflow"] = run
    done = on("slurmctld", "sacct --allusers --noheader -X --parsable2 --format=jobid --starttime=now-1days")
    story.seen["jobs before"] = set(done.stdout.split())
    assert story.seen["jobs before"]


def test_make_up_upgrades_in_place_with_servers_running(story):
    servers: dict[str, Server] = story.seen["servers"]
    with Outages(servers) as outages:
        timed_make(story, f"make up: upgrade {LAST.version} -> {THIS}", "up")
    for user, seconds in outages.longest.items():
        story.figures[f"{user}'s server unreachable (longest)"] = round(seconds, 1)
        story.figures[f"{user}'s server: polls that failed"] = outages.failed[user]
    print("the longest outages (UTC):", outages.when)
    print("figures:", story.figures)
    assert hub_image().endswith(f":{THIS}")


def test_the_hub_database_is_at_the_new_schema_with_a_copy_from_before(story):
    head = in_the_hub(
        "from alembic.script import ScriptDirectory; from jupyterhub.dbutil import _temp_alembic_ini;"
        "from alembic.config import Config\nwith _temp_alembic_ini('sqlite:///jupyterhub.sqlite') as ini:"
        " print(ScriptDirectory.from_config(Config(ini)).get_current_head())"
    )
    current = in_the_hub(
        "import sqlite3; print(sqlite3.connect('jupyterhub.sqlite').execute('select version_num from alembic_version')"
        ".fetchone()[0])"
    )
    assert head and current == head
    copies = in_the_hub("import os; print(' '.join(sorted(os.listdir('backups'))))").split()
    assert [name for name in copies if name.startswith(f"jupyterhub.sqlite.before-{THIS}-")], copies
    users = in_the_hub(
        f"import sqlite3; print(' '.join(r[0] for r in sqlite3.connect('backups/{copies[-1]}')"
        ".execute('select name from users')))"
    ).split()
    assert set(USERS) <= set(users)  # the copy is the database from before, readable


def test_the_servers_kept_running_on_the_same_jobs(story):
    servers: dict[str, Server] = story.seen["servers"]
    for server in servers.values():
        wait_for(f"{server.user}'s server answers", server.answers, 60, 0.5)
    assert {job: user for job, user in jupyter_jobs().items() if user in USERS} == story.seen["jobs"]
    check_no_orphans()


def test_the_workflow_goes_on_after_the_upgrade(story):
    run = story.seen["workflow"]
    code, out = as_bob(f"hpc-workflow approve {run} review")
    assert code == 0, out
    wait_for("the step after the gate", lambda: workflow_steps(run)["after"] == "COMPLETED", 120, 1)
    assert on("login", f"cat {WORK}/after.txt", user="bob").stdout.strip() == "after"


def test_sacct_keeps_the_jobs_from_before(story):
    done = on("slurmctld", "sacct --allusers --noheader -X --parsable2 --format=jobid --starttime=now-1days")
    assert story.seen["jobs before"] <= set(done.stdout.split())


def test_a_new_spawn_works_after_the_upgrade(story):
    server = start_server("dave")
    assert server.answers()
    session = HubSession("dave")
    assert session.login().status_code == 200
    assert session.api("DELETE", "/users/dave/server").status_code in (202, 204)


def container_states() -> dict[str, dict[str, object]]:
    """Each container's id, image, start time and restarts: what a changed container task changed."""
    names = docker("ps", "-a", "--format", "{{.Names}}").stdout.split()
    shown = docker("inspect", *names, check=False).stdout if names else ""  # one gone meanwhile: the others
    return {
        c["Name"].lstrip("/"): {
            "id": c["Id"][:12], "image": c["Image"][7:19], "status": c["State"]["Status"],
            "started": c["State"]["StartedAt"], "finished": c["State"]["FinishedAt"],
            "exit": c["State"]["ExitCode"], "restarts": c["RestartCount"],
            "config": {"env": sorted(c["Config"]["Env"] or []), "labels": c["Config"]["Labels"],
                       "mounts": sorted(str(m) for m in c["HostConfig"].get("Mounts") or []),
                       "hosts": c["HostConfig"].get("ExtraHosts"), "health": c["Config"].get("Healthcheck")},
        }
        for c in json.loads(shown or "[]")
    }  # fmt: skip


def what_differs(before: dict[str, dict[str, object]], after: dict[str, dict[str, object]]) -> dict[str, object]:
    return {
        name: {key: (before.get(name, {}).get(key), value) for key, value in state.items()
               if before.get(name, {}).get(key) != value}
        for name, state in after.items() if before.get(name) != state
    }  # fmt: skip


# The Docker engine's container events, as tools/prerequisites.sh logs them ("TIME ACTION NAME ID ...").
EVENTS_LOG = Path(os.environ.get("PREREQ_LOG_DIR", "/var/log/hpc-jupyterhub-deploy")) / "docker-events.log"


def events_since(started: float) -> list[str]:
    if not EVENTS_LOG.exists():
        return []
    lines = EVENTS_LOG.read_text(errors="replace").splitlines()
    return [line for line in lines if line.split(" ", 1)[0].isdigit() and int(line.split(" ", 1)[0]) >= started]


def test_a_second_make_up_changes_nothing(story):
    before, started = container_states(), time.time() - 1
    done = timed_make(story, "make up again", "up")
    recap = re.findall(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)", done.stdout, re.M)
    assert recap
    changed = {host: int(n) for host, n in recap if int(n)}
    assert not changed, (
        f"changed on a second run: {changed}; tasks: {changed_tasks(done.stdout)}; "
        f"containers (before, after): {what_differs(before, container_states())}; "
        f"the engine's container events meanwhile: {events_since(started)[-40:]}"
    )
