"""roles/slurm/filter_plugins/slurm_conf_change.py: a changed slurm.conf is applied by `scontrol reconfigure`
where Slurm allows it and by restarting the daemons only where needed (tests/infra tries both on the cluster)."""

from __future__ import annotations

import pytest

from tests.support.docker import ROOT
from tests.support.scripts import load_script

change = load_script(ROOT / "roles/slurm/filter_plugins/slurm_conf_change.py", "slurm_conf_change").slurm_conf_change

BEFORE = """# managed
ClusterName=hpc
SlurmctldPort=6817
SchedulerParameters=bf_continue
NodeName=c1 CPUs=4 RealMemory=8000 State=UNKNOWN
NodeName=c2 CPUs=4 RealMemory=8000 State=UNKNOWN
PartitionName=debug Nodes=c1,c2 Default=YES MaxTime=01:00:00 State=UP
"""

CASES = {
    "the same, comments aside": (BEFORE.replace("# managed", "# managed by Ansible\n\n"), "none"),
    "a partition's limit": (BEFORE.replace("MaxTime=01:00:00", "MaxTime=02:00:00"), "reconfigure"),
    "a new partition": (BEFORE + "PartitionName=big Nodes=c2 State=UP\n", "reconfigure"),
    "a scheduler parameter": (BEFORE.replace("bf_continue", "bf_continue,bf_window=2880"), "reconfigure"),
    "a new reconfigurable parameter": (BEFORE + "DefMemPerCPU=1000\n", "reconfigure"),
    "a port": (BEFORE.replace("6817", "6818"), "restart"),
    "a node added": (BEFORE + "NodeName=c3 CPUs=4 RealMemory=8000 State=UNKNOWN\n", "restart"),
    "a node reshaped": (BEFORE.replace("NodeName=c2 CPUs=4", "NodeName=c2 CPUs=8"), "restart"),
    "a parameter not known to be safe": (BEFORE + "MaxJobCount=50000\n", "restart"),
}


@pytest.mark.parametrize("case", CASES)
def test_a_change_is_reconfigured_where_slurm_allows_it_and_restarted_otherwise(case):
    after, expected = CASES[case]
    assert change(BEFORE, after) == expected


def test_a_first_write_starts_the_daemons_with_it():
    assert change("", BEFORE) == "restart"
