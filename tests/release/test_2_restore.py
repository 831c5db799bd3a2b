"""Disaster: `make backup`, `make clean` (every container, volume and secret gone), `make up`, `make restore`.

Before the backup, alice has a named server, an API token and a finished batch job, and dave's spawn is in
progress while the backup runs. Hostile archives (a corrupt copy, a truncated one, another cluster's) are refused
by `make restore` before anything changes. After the restore: alice logs in with her password from before (the new
deployment had made new ones), her named server, her token and the job history are back, and a new job's id goes
on from the old ones; Slurm and the hub agree on the servers.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tarfile
import threading
import time
from pathlib import Path

import pytest

from tests.release.conftest import SECRETS, THIS, Story, timed_make
from tests.support.cluster import check_no_orphans, start_server
from tests.support.docker import ROOT, docker, on
from tests.support.hubclient import HubSession, hub_healthy, json_of
from tests.support.scripts import load_script

BACKUPS = ROOT / "inventories/local/backups"
CLUSTER = "hpclocal"


def max_job_id() -> int:
    done = on("slurmctld", "sacct --allusers --noheader -X --parsable2 --format=jobid --starttime=now-7days")
    return max(int(job.split("_")[0]) for job in done.stdout.split())


def secrets_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted(SECRETS.rglob("*")):
        if path.is_file() and "runtime" not in path.parts and "audit" not in path.parts:
            digest.update(path.relative_to(SECRETS).as_posix().encode() + path.read_bytes())
    return digest.hexdigest()


def service_started() -> str:
    """When the hub container and slurmctld last started: a restore that stops them changes it."""
    hub = docker("inspect", "--format", "{{.State.StartedAt}}", "jupyterhub").stdout.strip()
    ctld = on("slurmctld", "systemctl show --property=ActiveEnterTimestamp slurmctld").stdout.strip()
    return f"{hub} {ctld}"


def restore(archive: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["make", "--no-print-directory", "-C", str(ROOT), "restore", f"BACKUP={archive}"],
                          capture_output=True, text=True, timeout=1200, check=False)  # fmt: skip
    if check:
        assert done.returncode == 0, f"make restore failed:\n{done.stdout[-4000:]}\n{done.stderr[-2000:]}"
    return done


def named(session: HubSession, name: str = "analysis") -> dict[str, object]:
    """The user's named server as the hub's API shows it, stopped ones too ({} if the hub has none)."""
    user = json_of(session.api("GET", f"/users/{session.user}", params={"include_stopped_servers": "1"}))
    return user["servers"].get(name, {})


@pytest.fixture(scope="module")
def before(story: Story) -> dict[str, object]:
    """bob's server running; alice's named server (started, then stopped: kept), her token, a finished job; her
    password."""
    start_server("bob")
    alice = HubSession("alice")
    assert alice.login().status_code == 200
    options = {"partition": "interactive", "cpus": 1, "time": 30}
    reply = alice.api("POST", "/users/alice/servers/analysis", json={"user_options": options})
    assert reply.status_code in (201, 202), reply.text[:300]
    alice.wait("alice's named server ready", lambda: bool(named(alice).get("ready")), 120, 0.5)
    assert alice.api("DELETE", "/users/alice/servers/analysis").status_code in (202, 204)
    alice.wait("alice's named server stopped", lambda: not named(alice).get("ready"), 60, 0.5)
    token = alice.token(expires_in_s=7 * 86400)
    job = on("login", "cd && sbatch --parsable --wait -p interactive -t 5 --wrap hostname", user="alice", login=True)
    assert job.returncode == 0, job.stderr
    return {"password": (SECRETS / "passwords/alice").read_text().strip(), "token": token,
            "job": job.stdout.strip().split(";")[0], "max job": max_job_id()}  # fmt: skip


@pytest.fixture(scope="module")
def archive(before, story: Story) -> Path:
    """make backup, with dave's spawn in progress."""
    dave = HubSession("dave")
    assert dave.login().status_code == 200
    if dave.server():
        dave.api("DELETE", "/users/dave/server")
        dave.wait("dave's server stopped", lambda: not dave.server(), 60, 0.5)
    options = {"partition": "interactive", "cpus": 1, "time": 30}
    spawning = threading.Thread(target=lambda: dave.api("POST", "/users/dave/server", json={"user_options": options}))
    spawning.start()
    earlier = set(BACKUPS.glob("*.tar.gz"))
    timed_make(story, "make backup", "backup")
    spawning.join(timeout=60)
    (path,) = set(BACKUPS.glob("*.tar.gz")) - earlier
    return path


def test_the_backup_is_one_private_archive_with_its_checksum_and_manifest(archive):
    assert archive.parent == BACKUPS and archive.stat().st_mode & 0o777 == 0o600
    checksum = archive.with_name(archive.name + ".sha256")
    assert checksum.read_text().split()[0] == hashlib.sha256(archive.read_bytes()).hexdigest()
    with tarfile.open(archive) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
    assert manifest["cluster"] == CLUSTER and manifest["version"] == THIS
    parts = set(manifest["parts"])
    assert {"hub/jupyterhub.sqlite", "hub/state.tar", "accounting/slurm_acct_db.sql", "slurmctld/state.tar",
            "secrets/munge.key", "secrets/cookie-secret", "secrets/passwords/alice", "config/hub.yaml",
            "config/slurm/slurm.conf"} <= parts, parts  # fmt: skip
    assert not [part for part in parts if part.startswith(("secrets/runtime/", "secrets/audit/"))]


def hostile(archive: Path, tmp: Path) -> dict[str, Path]:
    """A corrupt copy (one byte changed), a truncated one (its checksum made to match), another cluster's."""
    made = {}
    for name in ("corrupt", "truncated", "foreign"):
        folder = tmp / name
        folder.mkdir()
        made[name] = folder / archive.name
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0xFF
    made["corrupt"].write_bytes(bytes(data))
    shutil.copy(archive.with_name(archive.name + ".sha256"), made["corrupt"].with_name(archive.name + ".sha256"))
    cut = archive.read_bytes()[: archive.stat().st_size // 2]
    made["truncated"].write_bytes(cut)
    made["truncated"].with_name(archive.name + ".sha256").write_text(f"{hashlib.sha256(cut).hexdigest()}  x\n")
    backup_archive = load_script(ROOT / "roles/backup/library/backup_archive.py", "backup_archive")
    staging = tmp / "staging"
    backup_archive.unpack(archive, staging, cluster=CLUSTER, version=THIS)
    (staging / "manifest.json").unlink()
    packed = backup_archive.pack(staging, tmp / "foreign-out", cluster="othercluster", version=THIS,
                                 created="2026-01-01T00:00:00Z")  # fmt: skip
    made["foreign"] = packed.archive
    return made


REASONS = {
    "corrupt": "the copy is corrupt or truncated",
    "truncated": "does not read to its end",
    "foreign": "the archive is of cluster 'othercluster', this inventory's slurm_cluster_name is 'hpclocal'",
}


def test_hostile_archives_are_refused_and_nothing_changes(archive, tmp_path):
    started, secrets = service_started(), secrets_digest()
    for name, path in hostile(archive, tmp_path).items():
        done = restore(path, check=False)
        said = " ".join((done.stdout + done.stderr).split())
        assert done.returncode != 0 and REASONS[name] in said, f"{name}: {said[-1500:]}"
        assert "nothing was changed" in said
    assert service_started() == started and secrets_digest() == secrets and hub_healthy()


def test_make_clean_leaves_nothing(archive, story):
    timed_make(story, "make clean", "clean", "KEEP_IMAGES=1")
    assert not docker("ps", "--all", "--quiet", "--filter", "label=io.github.hpc-jupyterhub-deploy.cluster").stdout
    assert not [v for v in docker("volume", "ls", "--quiet").stdout.split() if v.startswith("hpcjh-")]
    assert not SECRETS.exists() and archive.exists()


def test_a_new_deployment_then_the_restore(before, archive, story):
    timed_make(story, "make up (new deployment)", "up")
    assert (SECRETS / "passwords/alice").read_text().strip() != before["password"]  # the new deployment's own
    started = time.monotonic()
    restore(archive)
    story.figures["make restore"] = round(time.monotonic() - started, 1)
    print("figures:", story.figures)


def test_users_log_in_with_the_same_passwords(before):
    assert HubSession("alice", password=str(before["password"])).login().status_code == 200


def test_named_servers_tokens_and_job_history_are_back(before):
    alice = HubSession("alice")
    assert alice.login().status_code == 200
    assert named(alice)["name"] == "analysis"
    me = HubSession("alice").api("GET", "/user", headers={"Authorization": f"token {before['token']}"})  # no cookie
    assert me.status_code == 200 and json_of(me)["name"] == "alice"
    history = on("slurmctld", f"sacct --noheader -X --parsable2 --format=jobid,user -j {before['job']}").stdout
    assert f"{before['job']}|alice" in history


def test_job_ids_go_on_from_where_they_were(before):
    job = on("login", "cd && sbatch --parsable -p interactive -t 5 --wrap hostname", user="alice", login=True)
    assert job.returncode == 0, job.stderr
    assert int(job.stdout.strip().split(";")[0]) > int(before["max job"])  # type: ignore[call-overload]


def test_servers_of_the_lost_hosts_are_stopped_and_start_again(before):
    """bob's server ran on hosts the disaster took: Slurm has ended its job and the hub shows it stopped, at once."""
    bob = HubSession("bob")
    assert bob.login().status_code == 200
    assert not bob.server()
    check_no_orphans()
    server = start_server("bob")
    assert server.answers()
    server.session.stop()  # the cluster is left as the tiers after this one expect it: no server running,
    alice = HubSession("alice")  # and alice without the named server of this test (the e2e tests count hers)
    assert alice.login().status_code == 200
    assert alice.api("DELETE", "/users/alice/servers/analysis", json={"remove": True}).status_code in (202, 204)
