"""make test-production: deploy/site.yml takes bare hosts to a working service over SSH, twice.

It runs beside the local cluster: its own network (hpcprod), host names (prod-*), volumes (hpcprod-*),
hub and proxy containers (prod-hub, prod-proxy) and ports (127.0.0.1:9443). PRODUCTION_KEEP=1 leaves the
production hosts running for a look (`ssh -i .build/production/inventory/secrets/ssh/id_ed25519 root@172.29.7.13`).
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from tests.production import hosts
from tests.support.docker import ROOT
from tests.support.infra import VENV_BIN

TIMES: dict[str, float] = {}


@dataclass
class Deploy:
    returncode: int
    seconds: float
    log: str
    changed: dict[str, int] = field(default_factory=dict)  # host -> changed tasks (PLAY RECAP)


def deploy(number: int) -> Deploy:
    """ansible-playbook -i <the run's inventory> deploy/site.yml, its output kept in .build/production/."""
    argv = [str(VENV_BIN / "python"), "tools/interruptible.py", str(VENV_BIN / "ansible-playbook"),
            "-i", str(hosts.INVENTORY), "deploy/site.yml"]  # fmt: skip
    started = time.monotonic()
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=2400, check=False,
                          env={**os.environ, "ANSIBLE_FORCE_COLOR": "0"})  # fmt: skip
    seconds = time.monotonic() - started
    log = done.stdout + done.stderr
    (hosts.WORK / f"deploy-{number}.log").write_text(log)
    recap = log.rpartition("PLAY RECAP")[2]
    changed = {m[1]: int(m[2]) for m in re.finditer(r"^(\S+)\s+:\s+ok=\d+\s+changed=(\d+)", recap, re.MULTILINE)}
    return Deploy(done.returncode, seconds, log, changed)


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
    first = deploy(1)
    TIMES["deploy from bare hosts"] = first.seconds
    second = deploy(2) if first.returncode == 0 else first
    TIMES["second run"] = second.seconds
    yield Site(bare, first, second)
    if os.environ.get("PRODUCTION_KEEP") != "1":
        hosts.remove_all(files=False)  # the run's logs stay in .build/production/


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if TIMES:
        terminalreporter.section("make test-production: times")
        for what, seconds in TIMES.items():
            terminalreporter.write_line(f"{what:<32} {seconds:>7.1f} s")
