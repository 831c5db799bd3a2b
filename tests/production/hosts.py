"""make test-production's bare hosts: Debian 12 containers (systemd, sshd, python3, nothing else) on the
Docker network hpcprod, reached over SSH as root with a key made for the run, and the inventory that names
them. Each run starts from nothing: the previous run's hosts, volumes and secrets are removed first."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field

import yaml

from tests.support.docker import ROOT, docker
from tests.support.infra import VENV_BIN
from tests.support.waiting import wait_for

TEMPLATE = ROOT / "tests/production/inventory"
WORK = ROOT / ".build/production"
INVENTORY = WORK / "inventory"
SECRETS = INVENTORY / "secrets"
KEY = SECRETS / "ssh/id_ed25519"
IMAGE = f"hpc-jupyterhub-deploy/bare-host:{(ROOT / 'VERSION').read_text().strip()}"
NETWORK = "hpcprod"
LABEL = "io.github.hpc-jupyterhub-deploy.cluster=hpcprod"
# The site's shared filesystem (NFS at a site): Docker volumes on every host.
VOLUMES = {"hpcprod-homes": "/global/homes", "hpcprod-scratch": "/global/scratch",
           "hpcprod-software": "/global/common/software"}  # fmt: skip


@dataclass(frozen=True)
class Host:
    name: str
    address: str
    groups: tuple[str, ...]


def inventory_hosts() -> list[Host]:
    """Every host as the committed inventory names it (name, address, groups): the cluster's, the directory's
    and the hub's."""
    tree = yaml.safe_load((TEMPLATE / "hosts.yml").read_text())
    children = tree["all"]["children"]
    groups = {**children["cluster"]["children"], **{name: body for name, body in children.items() if name != "cluster"}}
    found: dict[str, Host] = {}
    for group, body in groups.items():
        for name, host_vars in body["hosts"].items():
            known = found.get(name)
            found[name] = Host(name, host_vars["ansible_host"], (*known.groups, group) if known else (group,))
    return list(found.values())


def host(name: str) -> Host:
    return next(h for h in inventory_hosts() if h.name == name)


def subnet() -> str:
    """A /24 that holds every address of the inventory."""
    first = inventory_hosts()[0].address.rsplit(".", 1)[0]
    return f"{first}.0/24"


def remove_all(files: bool = True) -> None:
    """The hosts, the network and the volumes of a run; with `files`, its folder too (inventory, secrets, logs)."""
    ids = docker("ps", "-aq", "--filter", f"label={LABEL}").stdout.split()
    if ids:
        docker("rm", "-f", "-v", *ids)
    docker("network", "rm", NETWORK, check=False)
    docker("volume", "rm", *VOLUMES, check=False)
    if files:
        shutil.rmtree(WORK, ignore_errors=True)


def make_inventory() -> None:
    """The committed inventory, copied to the run's folder, with a new SSH key in its secrets."""
    shutil.copytree(TEMPLATE, INVENTORY)
    KEY.parent.mkdir(parents=True, mode=0o700)
    SECRETS.chmod(0o700)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "make-test-production", "-f", str(KEY)],
                   check=True)  # fmt: skip


def start_hosts() -> None:
    docker("network", "create", "--subnet", subnet(), "--label", LABEL, NETWORK)
    for volume in VOLUMES:
        docker("volume", "create", "--label", LABEL, volume)
    public_key = KEY.with_suffix(".pub")
    for host in inventory_hosts():
        mounts = [f"--volume={volume}:{target}" for volume, target in VOLUMES.items()]
        docker(
            "run", "--detach", "--name", host.name, "--hostname", host.name, "--label", LABEL,
            "--network", NETWORK, "--ip", host.address,
            "--tmpfs", "/run", "--tmpfs", "/run/lock", "--tmpfs", "/tmp",
            "--volume", "/sys/fs/cgroup:/sys/fs/cgroup:ro", *mounts,
            # How a site's installer leaves root's key: the only thing on the host that is not Debian's.
            "--volume", f"{public_key}:/root/.ssh/authorized_keys:ro",
            IMAGE,
        )  # fmt: skip


def ssh(host: Host, command: str, timeout_s: float = 120) -> subprocess.CompletedProcess[str]:
    """A command on a host over SSH as root, as the deploy does."""
    argv = ["ssh", "-i", str(KEY), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=accept-new",
            "-o", f"UserKnownHostsFile={KEY.parent / 'known_hosts'}", "-o", "ConnectTimeout=5",
            f"root@{host.address}", command]  # fmt: skip
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s, check=False)


def wait_for_ssh(deadline_s: float = 90) -> float:
    started = time.monotonic()
    for host in inventory_hosts():
        wait_for(f"sshd on {host.name}", lambda host=host: ssh(host, "true", 10).returncode == 0, deadline_s, 0.5)
    return time.monotonic() - started


@dataclass
class Deploy:
    returncode: int
    seconds: float
    log: str
    changed: dict[str, int] = field(default_factory=dict)  # host -> changed tasks (PLAY RECAP)


def deploy(name: str, *options: str, playbook: str = "deploy/site.yml") -> Deploy:
    """ansible-playbook -i <the run's inventory> PLAYBOOK `options`, its output kept in
    .build/production/deploy-NAME.log."""
    argv = [str(VENV_BIN / "python"), "tools/interruptible.py", str(VENV_BIN / "ansible-playbook"),
            "-i", str(INVENTORY), playbook, *options]  # fmt: skip
    started = time.monotonic()
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=2400, check=False,
                          env={**os.environ, "ANSIBLE_FORCE_COLOR": "0"})  # fmt: skip
    seconds = time.monotonic() - started
    log = done.stdout + done.stderr
    (WORK / f"deploy-{name}.log").write_text(log)
    recap = log.rpartition("PLAY RECAP")[2]
    changed = {m[1]: int(m[2]) for m in re.finditer(r"^(\S+)\s+:\s+ok=\d+\s+changed=(\d+)", recap, re.MULTILINE)}
    return Deploy(done.returncode, seconds, log, changed)
