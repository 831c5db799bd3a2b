"""slurm.conf from data (roles/slurm/templates/slurm.conf.j2): our parameters with the site's merged over them,
node groups with their own shapes and parameters, partitions with any Slurm key. The role's own template and
variables, rendered by Ansible on localhost for an inventory of made-up hosts (tests/infra reads the running
cluster's `scontrol show config` and `show node`)."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ROLE = ROOT / "roles/slurm"
HOSTS = {"all": {"children": {
    "slurm_controller": {"hosts": {"ctl": None}}, "slurm_accounting": {"hosts": {"dbd": None}},
    "compute": {"hosts": {"c1": None, "c2": None, "big1": None}}, "login_nodes": {"hosts": {"login1": None}},
    "bigmem": {"hosts": {"big1": None}},
}}}  # fmt: skip
SITE = {
    "slurm_cluster_name": "t",
    "slurm_node_cpus": 4,
    "slurm_node_real_memory": 8000,
    "slurm_partitions": [
        {
            "name": "debug",
            "nodes": "ALL",
            "default": True,
            "max_time": "01:00:00",
            "parameters": {"DefaultTime": "00:10:00", "PriorityTier": 2},
        },
        {"name": "big", "nodes": ["big1"]},
    ],
    "slurm_login_partition": {"name": "login", "qos": "login", "parameters": {"MaxNodes": 1}},
    "slurm_conf": {"SlurmdTimeout": 120, "MaxJobCount": 50000, "MinJobAge": ""},
    "slurm_node_groups": [
        {"group": "bigmem", "cpus": 64, "real_memory": 512000, "parameters": {"Features": "bigmem", "Weight": 10}},
        {"hosts": ["login1"], "cpus": 2, "real_memory": 4000},
    ],
}


def render(variables: dict[str, Any]) -> dict[str, str]:
    """slurm.conf's lines: {Key: rest of the line} for parameters, {'NodeName=x': ..., 'PartitionName=y': ...}."""
    play = [{
        "name": "Render slurm.conf", "hosts": "ctl", "gather_facts": False, "connection": "local",
        "vars": {"ansible_python_interpreter": sys.executable},
        "tasks": [
            {"ansible.builtin.include_vars": str(ROLE / "defaults/main.yml")},
            {"ansible.builtin.include_vars": str(ROLE / "vars/main.yml")},
            {"ansible.builtin.template": {"src": str(ROLE / "templates/slurm.conf.j2"), "dest": "{{ out }}",
                                          "mode": "0644"}},
        ],
    }]  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "play.yml").write_text(yaml.safe_dump(play, sort_keys=False))
        (Path(tmp) / "hosts.yml").write_text(yaml.safe_dump(HOSTS))
        out = Path(tmp) / "slurm.conf"
        extra = {**variables, "out": str(out), "slurm_controller_host": "ctl", "slurm_dbd_host": "dbd"}
        done = subprocess.run(
            [str(ROOT / ".venv/bin/ansible-playbook"), "-i", str(Path(tmp) / "hosts.yml"), str(Path(tmp) / "play.yml"),
             "-e", json.dumps(extra)], capture_output=True, text=True, check=False, cwd=ROOT, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout[-3000:]
        lines = [line for line in out.read_text().splitlines() if line and not line.startswith("#")]
    parsed: dict[str, str] = {}
    for line in lines:
        key, _, rest = line.partition(" ") if line.startswith(("NodeName=", "PartitionName=")) else line.partition("=")
        parsed[key] = rest
    return parsed


@pytest.fixture(scope="module")
def conf() -> dict[str, str]:
    return render(SITE)


def test_the_sites_parameters_are_merged_over_ours(conf):
    assert conf["SlurmdTimeout"] == "120" and conf["MaxJobCount"] == "50000"  # the site's
    assert conf["SchedulerParameters"] == "batch_sched_delay=0" and conf["SelectType"] == "select/cons_tres"  # ours
    assert "MinJobAge" not in conf  # "" leaves our key out: Slurm's own default
    assert conf["DefMemPerCPU"] == "2000"  # 8000 MB / 4 CPUs
    assert conf["ClusterName"] == "t" and conf["SlurmctldHost"] == "ctl"  # the role's, not a parameter


def test_node_groups_have_their_own_shapes_and_parameters(conf):
    assert conf["NodeName=c1"] == "CPUs=4 RealMemory=8000 State=UNKNOWN"  # no group: the cluster's shape
    assert conf["NodeName=big1"] == "CPUs=64 RealMemory=512000 Features=bigmem Weight=10 State=UNKNOWN"
    assert conf["NodeName=login1"] == "CPUs=2 RealMemory=4000 State=UNKNOWN"


def test_partitions_take_any_slurm_key(conf):
    assert conf["PartitionName=debug"] == (
        "Nodes=big1,c1,c2 Default=YES MaxTime=01:00:00 DefaultTime=00:10:00 PriorityTier=2 State=UP"
    )
    assert conf["PartitionName=big"] == "Nodes=big1 Default=NO MaxTime=UNLIMITED State=UP"
    assert conf["PartitionName=login"] == "Nodes=login1 Default=NO MaxTime=UNLIMITED QOS=login MaxNodes=1 State=UP"
