"""Helpers of the cluster tests: the hosts of the running test cluster, read from the local inventory."""

from __future__ import annotations

import functools
import json
import subprocess

import testinfra

from tests.support.docker import ROOT

INVENTORY = ROOT / "inventories/local"
VENV_BIN = ROOT / ".venv/bin"


@functools.cache
def ansible_inventory() -> dict[str, list[str]]:
    """group -> hosts, as Ansible reads the inventory (read once, when a test first asks)."""
    done = subprocess.run(
        [str(VENV_BIN / "ansible-inventory"), "-i", str(INVENTORY), "--list"],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )  # fmt: skip
    data = json.loads(done.stdout)
    return {group: sorted(body.get("hosts", [])) for group, body in data.items() if isinstance(body, dict)}


def hosts_of(group: str) -> list[str]:
    return ansible_inventory().get(group, [])


def host(name: str) -> testinfra.host.Host:
    return testinfra.get_host(f"docker://root@{name}")


def as_user(node: testinfra.host.Host, user: str, command: str) -> testinfra.backend.base.CommandResult:
    """Run `command` in a login shell of `user`, as a person on that host would."""
    return node.run(f"su - {user} -c {command!r}")
