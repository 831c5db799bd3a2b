"""make test-production: deploy/site.yml takes bare hosts to a working service over SSH, twice.

It runs beside the local cluster: its own network (hpcprod), host names (prod-*) and volumes (hpcprod-*); the
hub is on its own host (prod-jupyter, systemd services), the users in a directory (prod-ldap). PRODUCTION_KEEP=1
leaves the production hosts running for a look (`ssh -i .build/production/inventory/secrets/ssh/id_ed25519
root@172.29.7.13`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.production import hosts
from tests.production.hosts import Deploy, deploy

TIMES: dict[str, float] = {}


@dataclass
class Site:
    bare: dict[str, str]  # host -> what dpkg-query said of munge and Slurm before the deploy
    first: Deploy
    second: Deploy


@pytest.fixture(scope="session")
def site() -> Iterator[Site]:
    hosts.remove_all()
    hosts.make_inventory()
    hosts.start_hosts()
    TIMES["hosts up (sshd answering)"] = hosts.wait_for_ssh()
    bare = {host.name: hosts.ssh(host, "dpkg-query --show munge slurm-client 2>&1").stdout
            for host in hosts.inventory_hosts()}  # fmt: skip
    first = deploy("1")
    TIMES["deploy from bare hosts"] = first.seconds
    second = deploy("2") if first.returncode == 0 else first
    TIMES["second run"] = second.seconds
    yield Site(bare, first, second)
    if os.environ.get("PRODUCTION_KEEP") != "1":
        hosts.remove_all(files=False)  # the run's logs stay in .build/production/


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if TIMES:
        terminalreporter.section("make test-production: times")
        for what, seconds in TIMES.items():
            terminalreporter.write_line(f"{what:<32} {seconds:>7.1f} s")
