"""A slurm.conf change is applied by `scontrol reconfigure` where Slurm allows it: a partition's limit changed in the
inventory reaches slurmctld with slurmctld and slurmd still the same processes (jobs and servers untouched); the
inventory's value put back, the same again. Which changes restart instead is unit-tested
(tests/unit/test_slurm_conf_change.py)."""

from __future__ import annotations

import json
import re
import subprocess

import yaml

from tests.support.docker import ROOT, on
from tests.support.infra import INVENTORY, VENV_BIN

PLAYBOOK = ROOT / "tests/infra/slurm-role.yml"


def slurm_role(*extra: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(VENV_BIN / "ansible-playbook"), "-i", str(INVENTORY), str(PLAYBOOK), *extra],
                          capture_output=True, text=True, check=False, cwd=ROOT, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:]
    return done


def daemons() -> tuple[str, str]:
    pid = "systemctl show --property=MainPID --value {}"
    return on("slurmctld", pid.format("slurmctld")).stdout.strip(), on("c1", pid.format("slurmd")).stdout.strip()


def max_time(partition: str) -> str:
    shown = on("slurmctld", f"scontrol show partition {partition}").stdout
    return re.search(r"MaxTime=(\S+)", shown)[1]  # type: ignore[index]


def test_a_partitions_limit_is_applied_by_reconfigure_without_restarting_slurm():
    partitions = yaml.safe_load((INVENTORY / "group_vars/all.yml").read_text())["slurm_partitions"]
    assert partitions[0]["name"] == "debug" and max_time("debug") == "01:00:00"
    before = daemons()
    changed = [dict(partitions[0], max_time="00:45:00"), *partitions[1:]]
    done = slurm_role("-e", json.dumps({"slurm_partitions": changed}))
    assert "slurm.conf changed: scontrol reconfigure" in done.stdout
    assert "RUNNING HANDLER [slurm : Reconfigure Slurm]" in done.stdout
    assert "Restart slurmctld" not in done.stdout.split("RUNNING HANDLER", 1)[-1].split("PLAY RECAP")[0]
    assert max_time("debug") == "00:45:00"
    assert daemons() == before
    done = slurm_role()
    assert "slurm.conf changed: scontrol reconfigure" in done.stdout
    assert max_time("debug") == "01:00:00" and daemons() == before
