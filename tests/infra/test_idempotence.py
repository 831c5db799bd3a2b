"""A second run of the production playbook against the running cluster changes nothing."""

from __future__ import annotations

import re
import subprocess

from tests.support.docker import ROOT
from tests.support.infra import INVENTORY, VENV_BIN


def test_second_run_of_site_yml_changes_nothing():
    done = subprocess.run(
        [str(VENV_BIN / "ansible-playbook"), "-i", str(INVENTORY), "deploy/site.yml"],
        capture_output=True, text=True, check=False, cwd=ROOT, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:]
    recap = re.findall(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", done.stdout, re.M)
    assert recap, done.stdout[-2000:]
    changed = {host: int(n) for host, n, _, _ in recap if int(n)}
    assert not changed, f"changed on a second run: {changed}; tasks: {changed_tasks(done.stdout)}"


def changed_tasks(output: str) -> list[str]:
    """'task on host' for every change the playbook reported."""
    found, task = [], ""
    for line in output.splitlines():
        if line.startswith("TASK ["):
            task = line[6 : line.index("]")]
        elif line.startswith("changed: ["):
            found.append(f"{task} on {line[10 : line.index(']')]}")
    return found
