"""A hub URL the compute nodes cannot reach stops the deploy with one line naming jupyterhub_hub_connect_url
and the node: the jupyterhub role's check, asked from a compute node of the running cluster (only the check
runs here; the hub is not touched)."""

from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path

import pytest
import yaml

from tests.support.docker import ROOT
from tests.support.infra import INVENTORY, VENV_BIN, hosts_of

PLAY = [{
    "name": "Check the hub's address from a compute node",
    "hosts": "hub",
    "gather_facts": False,
    "tasks": [{"name": "The role's check", "ansible.builtin.include_role": {"name": "jupyterhub",
                                                                          "tasks_from": "reach_check"}}],
}]  # fmt: skip


def reach_check(*extra: str) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(dir=ROOT / "deploy") as tmp:  # playbook_dir: deploy/, as for site.yml
        playbook = Path(tmp) / "reach.yml"
        playbook.write_text(yaml.safe_dump(PLAY, sort_keys=False))
        return subprocess.run(
            [str(VENV_BIN / "ansible-playbook"), "-i", str(INVENTORY), str(playbook), *extra],
            capture_output=True, text=True, check=False, cwd=ROOT, timeout=300,
        )  # fmt: skip


def asking_node(output: str) -> str:
    """The compute node the check asked from (the first of group compute, in the inventory's order)."""
    found = re.search(r"from a compute node - (\S+)\]", output)
    assert found, output[-2000:]
    assert found[1] in hosts_of("compute")
    return found[1]


def test_the_compute_nodes_reach_the_hubs_api_at_its_connect_url():
    done = reach_check()
    assert done.returncode == 0, done.stdout[-3000:]
    assert re.search(rf"ok: \[localhost -> {asking_node(done.stdout)}\]", done.stdout)


@pytest.mark.parametrize("url", ["http://hub:9", "http://nosuchhost.invalid:8081"])
def test_an_unreachable_connect_url_fails_naming_the_variable_and_the_node(url):
    done = reach_check("-e", f"jupyterhub_hub_connect_url={url}")
    assert done.returncode != 0
    node = asking_node(done.stdout)
    line = " ".join(done.stdout.split())
    assert f"jupyterhub_hub_connect_url ({url}): compute node {node} cannot reach the hub's API there" in line
