"""Fixtures for the cluster tests: the hosts of the running test cluster, read from the local inventory.

`make test-infra` brings the cluster up first (make cluster); these tests only look at it and run
jobs on it as its users, as an operator would.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import testinfra

ROOT = Path(__file__).resolve().parents[2]
INVENTORY = ROOT / "inventories/local"
VENV_BIN = ROOT / ".venv/bin"


def ansible_inventory() -> dict[str, list[str]]:
    done = subprocess.run(
        [str(VENV_BIN / "ansible-inventory"), "-i", str(INVENTORY), "--list"],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )  # fmt: skip
    data = json.loads(done.stdout)
    return {group: sorted(body.get("hosts", [])) for group, body in data.items() if isinstance(body, dict)}


GROUPS = ansible_inventory()
CLUSTER_HOSTS = GROUPS.get("cluster", [])


def hosts_of(group: str) -> list[str]:
    return GROUPS.get(group, [])


def host(name: str) -> testinfra.host.Host:
    return testinfra.get_host(f"docker://root@{name}")


def as_user(node: testinfra.host.Host, user: str, command: str) -> testinfra.backend.base.CommandResult:
    """Run `command` in a login shell of `user`, as a person on that host would."""
    return node.run(f"su - {user} -c {command!r}")


@pytest.fixture(scope="session", autouse=True)
def cluster_is_up() -> None:
    missing = [g for g in ("slurm_controller", "slurm_accounting", "compute", "login_nodes") if not hosts_of(g)]
    if missing:
        pytest.fail(f"no test cluster (groups {', '.join(missing)} empty): run `make cluster`")


@pytest.fixture(scope="session")
def login() -> testinfra.host.Host:
    return host(hosts_of("login_nodes")[0])


@pytest.fixture(scope="session")
def controller() -> testinfra.host.Host:
    return host(hosts_of("slurm_controller")[0])
