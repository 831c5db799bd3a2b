"""Each host group runs its daemons, and only those (one module per host group would repeat this table)."""

from __future__ import annotations

import pytest

from tests.support.infra import host, hosts_of

EXPECTED = {
    "slurm_controller": {"slurmctld"},
    "slurm_accounting": {"slurmdbd", "mariadb"},
    "compute": {"slurmd"},
    "login_nodes": set(),
}
DAEMONS = {"slurmctld", "slurmdbd", "mariadb", "slurmd"}

CASES = [(group, name) for group in EXPECTED for name in hosts_of(group)]


@pytest.mark.parametrize(("group", "name"), CASES)
def test_daemons_of_the_host_group(group, name):
    node = host(name)
    for daemon in DAEMONS:
        service = node.service(daemon)
        if daemon in EXPECTED[group]:
            assert service.is_running and service.is_enabled, (name, daemon)
        else:
            assert not service.is_running, (name, daemon)


def test_slurm_sees_every_compute_node_idle(controller):
    out = controller.check_output("sinfo --noheader --Node --format='%N %t'")
    states = dict(line.split() for line in out.splitlines())
    assert states == {name: "idle" for name in hosts_of("compute")}


def test_partitions_debug_and_interactive(controller):
    out = controller.check_output("sinfo --noheader --format='%R'")
    assert set(out.split()) == {"debug", "interactive"}


def test_qos_normal_and_debug(controller):
    out = controller.check_output("sacctmgr --noheader --parsable2 show qos format=name,maxwall")
    qos = dict(line.split("|") for line in out.splitlines())
    assert qos["normal"] == "" and qos["debug"] == "00:30:00"
