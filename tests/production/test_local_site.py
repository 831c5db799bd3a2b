"""Another site's local cluster: `make up INVENTORY=...` with an inventory whose every site fact differs from
the sample's (tests/production/local-site: cluster, host, network and volume names, users' group and GID, users
and UIDs, projects, partitions, QoS, node count, ports), beside the local cluster, which it leaves alone. Its
users spawn with the site's defaults, and nothing the run prints names the sample.
PRODUCTION_KEEP=1 leaves it running (`make status INVENTORY=.build/local-site/inventory`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.production.conftest import TIMES
from tests.support.docker import ROOT, docker
from tests.support.hubclient import HubSession

TEMPLATE = ROOT / "tests/production/local-site"
WORK = ROOT / ".build/local-site"
INVENTORY = WORK / "inventory"
HUB = "https://127.0.0.1:9543"  # jupyterhub_public_port of the site's inventory
USER, UID, GID = "yuki", "42001", "4200"
NODES = {"os-node01", "os-node02", "os-node03"}
HUB_VOLUME = "hpcos-hub-state"
# The sample inventory's facts (inventories/local): none may be printed or used by this site's run.
SAMPLE = re.compile(r"\b(alice|bob|carol|dave|erin|hpcusers|m1000|m2000|interactive|hpclocal)\b")
LOCAL_CLUSTER = ("slurmctld", "slurmdbd", "login", "c1", "jupyterhub", "proxy")


@dataclass
class Up:
    returncode: int
    output: str


def make(*args: str, timeout_s: float = 1800) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NODES", "INVENTORY", "ANSIBLE_ARGS")}
    return subprocess.run(["make", "-C", str(ROOT), "--no-print-directory", *args, f"INVENTORY={INVENTORY}"],
                          capture_output=True, text=True, timeout=timeout_s, check=False,
                          env={**env, "ANSIBLE_FORCE_COLOR": "0"})  # fmt: skip


def remove_all() -> None:
    if INVENTORY.exists():
        done = make("down", "ANSIBLE_ARGS=-e test_cluster_remove_volumes=true", timeout_s=600)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    docker("volume", "rm", "--force", HUB_VOLUME, check=False)


def started_at(names: tuple[str, ...]) -> dict[str, str]:
    """The local cluster's containers that run, and when each started."""
    done = docker("inspect", "--format", "{{.Name}} {{.State.StartedAt}}", *names, check=False)
    return dict(line.lstrip("/").split() for line in done.stdout.splitlines())


@pytest.fixture(scope="module")
def other_site() -> Iterator[Up]:
    remove_all()
    shutil.rmtree(WORK, ignore_errors=True)
    shutil.copytree(TEMPLATE, INVENTORY)
    local_before = started_at(LOCAL_CLUSTER)
    started = time.monotonic()
    done = make("up")
    TIMES["make up INVENTORY=another site"] = time.monotonic() - started
    (WORK / "make-up.log").write_text(done.stdout + done.stderr)
    assert started_at(LOCAL_CLUSTER) == local_before, "the local cluster's containers were restarted or removed"
    yield Up(done.returncode, done.stdout + done.stderr)
    if os.environ.get("PRODUCTION_KEEP") != "1":
        remove_all()


def on_controller(command: str) -> str:
    done = docker("exec", "os-ctl", "sh", "-c", command, check=False)
    assert done.returncode == 0, f"{command}: {done.stderr}"
    return done.stdout


def test_make_up_succeeds_and_names_this_sites_users_only(other_site: Up):
    assert other_site.returncode == 0, other_site.output[-4000:]
    for said in ("yuki", "zoltan", HUB):
        assert said in other_site.output, said
    assert not SAMPLE.findall(other_site.output), SAMPLE.findall(other_site.output)


def test_slurm_has_this_sites_nodes_partitions_projects_and_qos(other_site: Up):
    assert other_site.returncode == 0
    nodes = on_controller("sinfo --noheader --Node --format='%N %P'").split()
    assert set(nodes[0::2]) == NODES and set(nodes[1::2]) == {"jupyter*", "long"}, nodes
    qos = on_controller("sacctmgr --noheader --parsable2 show assoc where user=zoltan format=account,qos,defaultqos")
    assert sorted(qos.split()) == ["phy01|quick,standard|standard", "phy02|quick,standard|standard"], qos


def test_a_user_spawns_with_the_sites_defaults_on_a_compute_node(other_site: Up):
    assert other_site.returncode == 0
    session = HubSession(USER, hub=HUB, secrets=INVENTORY / "secrets")
    assert session.login().status_code == 200
    form = session.get(f"{HUB}/hub/spawn").text
    assert "phy01" in form and "long" in form and "standard" in form and "m1000" not in form
    reply = session.api("POST", f"/users/{USER}/server", json={})
    assert reply.status_code in (201, 202), reply.text[:300]
    session.wait_ready(180)
    job = on_controller(f"squeue --noheader --user={USER} --states=RUNNING --format='%P %a %q %N'").split()
    printed = session.run_in_kernel("import os, socket\nprint(socket.gethostname(), os.getuid(), *os.getgroups())")
    session.stop()
    assert job[:3] == ["jupyter", "phy01", "standard"] and job[3] in NODES, job
    where, uid, *groups = printed.split()
    assert where == job[3] and uid == UID and GID in groups, printed


def test_make_status_reads_this_sites_names(other_site: Up):
    assert other_site.returncode == 0
    done = make("status", timeout_s=300)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "os-hub: healthy" in done.stdout and "os-node[01-03]" in done.stdout, done.stdout[-3000:]
    assert not SAMPLE.findall(done.stdout), SAMPLE.findall(done.stdout)
    hub = json.loads(docker("inspect", "os-hub").stdout)[0]
    assert "HPCHUB_USERS_GROUP=physicists" in hub["Config"]["Env"]
