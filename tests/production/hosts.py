"""make test-production's bare hosts: Debian 12 containers (systemd, sshd, python3, nothing else) on the
Docker network hpcprod, reached over SSH as root with a key made for the run, and the inventory that names
them. Each run starts from nothing: the previous run's hosts, volumes and secrets are removed first."""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass

import yaml

from tests.support.docker import ROOT, docker
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
HUB_VOLUME = "hpcprod-hub-state"
HUB_CONTAINERS = ("prod-hub", "prod-proxy")  # jupyterhub_hub_container, jupyterhub_proxy_container


@dataclass(frozen=True)
class Host:
    name: str
    address: str
    groups: tuple[str, ...]


def inventory_hosts() -> list[Host]:
    """The cluster's hosts as the committed inventory names them (name, address, groups)."""
    tree = yaml.safe_load((TEMPLATE / "hosts.yml").read_text())
    found: dict[str, Host] = {}
    for group, body in tree["all"]["children"]["cluster"]["children"].items():
        for name, host_vars in body["hosts"].items():
            known = found.get(name)
            groups = (*known.groups, group) if known else (group,)
            found[name] = Host(name, host_vars["ansible_host"], groups)
    return list(found.values())


def subnet() -> str:
    """A /24 that holds every address of the inventory."""
    first = inventory_hosts()[0].address.rsplit(".", 1)[0]
    return f"{first}.0/24"


def remove_all(files: bool = True) -> None:
    """The hosts, the hub's containers, the network and the volumes of a run; with `files`, its folder too
    (inventory, secrets, logs)."""
    ids = docker("ps", "-aq", "--filter", f"label={LABEL}").stdout.split()
    if ids:
        docker("rm", "-f", "-v", *ids)
    docker("rm", "-f", *HUB_CONTAINERS, check=False)
    docker("network", "rm", NETWORK, check=False)
    docker("volume", "rm", *VOLUMES, HUB_VOLUME, check=False)
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
