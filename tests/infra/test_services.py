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
    "login_nodes": {"slurmd"},  # slurm_login_partition: the login node's own partition, for light servers
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


def test_slurm_sees_every_compute_and_login_node_idle(controller):
    out = controller.check_output("sinfo --noheader --Node --format='%N %t'")
    states = dict(line.split() for line in out.splitlines())
    assert states == {name: "idle" for name in [*hosts_of("compute"), *hosts_of("login_nodes")]}


def test_partitions_debug_interactive_gpu_and_login(controller):
    out = controller.check_output("sinfo --noheader --format='%R %N %G'")
    lines = sorted(out.splitlines())  # a line per kind of node: c1 has no GPU
    assert lines == [
        "debug c1 (null)",
        "debug c2 gpu:2",
        "gpu c2 gpu:2",
        "interactive c1 (null)",
        "interactive c2 gpu:2",
        "login login (null)",  # the compute partitions (nodes ALL) leave the login node out
    ]


def test_the_sites_own_slurm_parameters_and_node_group_reach_slurm(controller):
    """slurm.conf from data: the local inventory's slurm_conf (over our defaults) and its node group for c2."""
    config = controller.check_output("scontrol show config")
    settings = {key.strip(): value.strip() for key, _, value in (line.partition(" = ") for line in config.splitlines())}
    assert settings["MaxJobCount"] == "20000" and settings["SlurmdTimeout"] == "20 sec"
    assert settings["SchedulerParameters"] == "batch_sched_delay=0"  # ours, not overridden
    features = {name: controller.check_output(f"scontrol show node {name}") for name in hosts_of("compute")}
    assert "AvailableFeatures=gpu" in features["c2"], features["c2"]
    assert "AvailableFeatures=(null)" in features["c1"], features["c1"]


def test_the_login_partition_is_shared_and_limits_each_user(controller):
    """slurm_login_partition and its QoS (slurm_qos' max_tres_per_user, with DenyOnLimit)."""
    partition = controller.check_output("scontrol show partition login")
    assert "OverSubscribe=FORCE:32" in partition and "QoS=login" in partition and "MaxTime=7-00:00:00" in partition
    qos = controller.check_output("sacctmgr --noheader --parsable2 show qos where name=login format=maxtrespu,flags")
    assert qos.strip() == "cpu=2,mem=4G|DenyOnLimit", qos


def test_c2_declares_two_gpus_and_projects_limit_them(controller):
    """slurm_node_gres and slurm_accounts' max_gpus (roles/slurm): Slurm accounts gres/gpu, m1000 may use 2."""
    assert "Gres=gpu:2" in controller.check_output("scontrol show node c2")
    assert "gres/gpu" in controller.check_output("scontrol show config | grep -i AccountingStorageTRES")
    limits = controller.check_output(
        "sacctmgr --noheader --parsable2 show assoc where cluster=hpclocal format=account,user,maxtres"
    ).splitlines()
    assert "m1000||gres/gpu=2" in limits and "m2000||gres/gpu=0" in limits, limits


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
