"""Each host group runs its daemons, and only those (one module per host group would repeat this table); the hub's
sudo rule follows the inventory."""

from __future__ import annotations

import pytest
import yaml

from tests.support.infra import INVENTORY, host, hosts_of

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


def test_the_hubs_sudo_rule_names_the_inventorys_users_group():
    # Written by the image's entrypoint from HPCHUB_USERS_GROUP, which the jupyterhub role sets from the inventory.
    group = yaml.safe_load((INVENTORY / "group_vars/all.yml").read_text())["accounts_users_group"]["name"]
    hub = host("jupyterhub")
    rule = hub.file("/etc/sudoers.d/jupyterhub")
    assert (rule.user, rule.mode) == ("root", 0o440)
    assert f"jupyterhub ALL=(%{group}) NOPASSWD:SETENV: /usr/bin/sbatch" in rule.content_string
    assert hub.run("visudo --check --strict --quiet").rc == 0
