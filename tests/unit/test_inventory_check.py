"""A bad inventory fails deploy/site.yml in its first play, naming the variable (no host is contacted).

Each run takes about 5 s alone; they run two at a time (this machine's cores), and what is asserted is
which hosts the play touched, not a wall-clock time that only measures the machine's load.
"""

from __future__ import annotations

import copy
import os
import re
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / ".venv/bin"

HOSTS = {
    "all": {
        "children": {
            "cluster": {
                "children": {
                    "slurm_controller": {"hosts": {"ctl.invalid": None}},
                    "slurm_accounting": {"hosts": {"dbd.invalid": None}},
                    "compute": {"hosts": {"c1.invalid": None, "c2.invalid": None}},
                    "login_nodes": {"hosts": {"login.invalid": None}},
                }
            }
        }
    }
}
# Every variable a role requires (tests/unit/test_role_arguments.py lists them), and valid.
VARS = {
    "slurm_cluster_name": "t",
    "accounts_users_group": {"name": "scientists", "gid": 3100},
    "slurm_node_cpus": 4,
    "slurm_node_real_memory": 4096,
    "accounts_users": [{"name": "alice", "uid": 20001, "projects": ["m1"]}, {"name": "bob", "uid": 20002}],
    "slurm_accounts": [{"name": "m1"}],
    "slurm_partitions": [{"name": "debug", "nodes": "ALL", "default": True, "parameters": {"DefaultTime": "10"}}],
    "slurm_conf": {"MaxJobCount": 20000, "MinJobAge": ""},
    "slurm_node_groups": [
        {"hosts": ["c2.invalid"], "cpus": 8, "parameters": {"Features": "gpu,big"}},
        {"group": "login_nodes", "cpus": 2},
    ],
    "site_places": [{"name": "debug", "partition": "debug", "kernel": {"cpus": 2, "time": "00:30:00", "memory": "4G"},
                     "environments": ["default", "numpy1"]}],
    "site_environments": [{"name": "default", "prefix": "/opt/jupyter"},
                          {"name": "numpy1", "prefix": "/sw/numpy1",
                           "lock": str(ROOT / "inventories/local/environments/numpy1.txt")}],
}  # fmt: skip


def no_controller(hosts, _vars):
    hosts["all"]["children"]["cluster"]["children"]["slurm_controller"] = {"hosts": {}}


def no_compute(hosts, _vars):
    hosts["all"]["children"]["cluster"]["children"]["compute"] = {"hosts": {}}


def duplicate_uid(_hosts, variables):
    variables["accounts_users"][1]["uid"] = 20001


def user_without_uid(_hosts, variables):
    del variables["accounts_users"][1]["uid"]


def unknown_partition_node(_hosts, variables):
    variables["slurm_partitions"][0]["nodes"] = ["c1.invalid", "c9"]


def unknown_project(_hosts, variables):
    variables["accounts_users"][1]["projects"] = ["nosuch"]


def db_url_with_password(_hosts, variables):
    variables["jupyterhub_db_url"] = "postgresql://hub:s3cret@db.invalid/jupyterhub"


def db_url_of_another_database(_hosts, variables):
    variables["jupyterhub_db_url"] = "mysql://hub@db.invalid/jupyterhub"


def kernel_in_a_partition_slurm_lacks(_hosts, variables):
    variables["site_places"] = [{"name": "debug", "partition": "debug"},
                                {"name": "big", "partition": "nosuch", "kernel": {"cpus": 4, "time": 30}}]  # fmt: skip


def kernel_of_no_size(_hosts, variables):
    variables["site_places"] = [{"name": "debug", "partition": "debug", "kernel": {"cpus": 0, "time": 30}}]


def slurm_conf_of_two_words(_hosts, variables):
    variables["slurm_conf"] = {"MaxJobCount": 100, "SlurmctldParameters": "a b"}


def node_group_of_an_unknown_host(_hosts, variables):
    variables["slurm_node_groups"] = [{"hosts": ["c9"], "cpus": 8}]


def no_node_cpus(_hosts, variables):
    del variables["slurm_node_cpus"]


def no_users_group(_hosts, variables):
    del variables["accounts_users_group"]


def scrape_interval_in_words(_hosts, variables):
    variables["monitoring_scrape_interval"] = "5 seconds"


def alert_receiver_of_a_bad_address(_hosts, variables):
    variables["monitoring_alert_receiver"] = {"email": "ops at example.org", "smarthost": "mail:25"}


def variable_a_release_renamed(_hosts, variables):
    """As a site's inventory of the last release would be, had this release renamed slurm_node_cpus."""
    variables["inventory_check_renamed_variables"] = {"slurm_cpus": {"name": "slurm_node_cpus", "release": "0.2.0"}}
    variables["slurm_cpus"] = 4


def place_offering_an_unknown_environment(_hosts, variables):
    variables["site_places"][0]["environments"] = ["default", "numpy2"]


def environment_without_its_lock(_hosts, variables):
    variables["site_environments"][1]["lock"] = "/nonexistent/numpy1.txt"


CASES = {
    no_node_cpus: "inventory: slurm_node_cpus is not set, and role slurm requires it (CPUs of each compute node.) for "
    "c1.invalid, c2.invalid, login.invalid ...; set it in group_vars",
    no_users_group: "inventory: accounts_users_group is not set, and role accounts requires it",
    no_controller: "group 'slurm_controller' must hold exactly one host",
    no_compute: "group 'compute' holds no host",
    duplicate_uid: "accounts_users: uid 20001 is given to alice and bob",
    user_without_uid: "accounts_users[1] (bob): needs a name and an integer uid",
    unknown_partition_node: "slurm_partitions[0] (debug): node c9 is not a compute node",
    unknown_project: "accounts_users (bob): projects nosuch are not in slurm_accounts",
    kernel_in_a_partition_slurm_lacks: "site_places[1] (big): its servers and kernel run in partition nosuch, which is "
    "not one of slurm_partitions or slurm_login_partition (debug)",
    place_offering_an_unknown_environment: "numpy2'' is not one of site_environments (default, numpy1)",
    environment_without_its_lock: "site_environments[1] (numpy1): its lock /nonexistent/numpy1.txt is not a file on",
    kernel_of_no_size: "site_places[0].kernel.cpus: must be a whole number from 1 (got 0)",
    slurm_conf_of_two_words: 'slurm_conf ({"MaxJobCount": 100, "SlurmctldParameters": "a b"}): keys must be',
    node_group_of_an_unknown_host: 'slurm_node_groups[0] ({"cpus": 8, "hosts": ["c9"]}): needs hosts',
    db_url_with_password: "jupyterhub_db_url (postgresql://hub:***@db.invalid/jupyterhub): must be empty",
    db_url_of_another_database: "jupyterhub_db_url (mysql://hub@db.invalid/jupyterhub): must be empty",
    scrape_interval_in_words: "monitoring_scrape_interval (5 seconds) and monitoring_retention (15d) must be",
    alert_receiver_of_a_bad_address: "monitoring_alert_receiver: {email: ADDRESS, smarthost: HOST:PORT",
    variable_a_release_renamed: "inventory: slurm_cpus was renamed slurm_node_cpus in release 0.2.0 (CHANGELOG.md): "
    "set slurm_node_cpus instead, for c1.invalid",
}


def run_site(mutate) -> subprocess.CompletedProcess[str]:
    hosts, variables = copy.deepcopy(HOSTS), copy.deepcopy(VARS)
    if mutate:
        mutate(hosts, variables)
    with tempfile.TemporaryDirectory() as tmp:
        inventory = Path(tmp)
        (inventory / "group_vars").mkdir()
        (inventory / "hosts.yml").write_text(yaml.safe_dump(hosts))
        (inventory / "group_vars/all.yml").write_text(yaml.safe_dump(variables))
        if mutate:
            cmd = [str(BIN / "ansible-playbook"), "-i", str(inventory), "deploy/site.yml"]
        else:  # the check alone: a good inventory passes it (the rest would contact the hosts)
            cmd = [str(BIN / "ansible"), "localhost", "-i", str(inventory), "-m", "ansible.builtin.include_role",
                   "-a", "name=inventory_check"]  # fmt: skip
        return subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=ROOT, timeout=120)


def unreachable_hosts(_hosts, _variables):
    """A good inventory whose hosts do not answer: the whole of site.yml runs, and stops before configuring."""


@pytest.fixture(scope="module")
def results():
    cases = [None, *CASES, unreachable_hosts]
    with ThreadPoolExecutor(max_workers=min(len(cases), os.cpu_count() or 2)) as pool:
        return dict(zip(cases, pool.map(run_site, cases), strict=True))


def test_a_good_inventory_passes_the_check(results):
    done = results[None]
    assert done.returncode == 0, done.stdout[-2000:]


@pytest.mark.parametrize("case", CASES, ids=[case.__name__ for case in CASES])
def test_bad_inventory_fails_first_naming_the_variable(results, case):
    done = results[case]
    assert done.returncode != 0
    assert CASES[case] in " ".join(done.stdout.split())
    assert "PLAY [Configure every cluster host" not in done.stdout  # nothing ran on any host
    recap = done.stdout.rpartition("PLAY RECAP")[2]
    assert re.findall(r"^(\S+)\s+:", recap, re.MULTILINE) == ["localhost"]  # no host was contacted


def test_hosts_that_do_not_answer_stop_the_deploy_naming_each(results):
    done = results[unreachable_hosts]
    assert done.returncode != 0
    text = " ".join(done.stdout.split())
    for name in ("ctl.invalid", "dbd.invalid", "c1.invalid", "c2.invalid", "login.invalid"):
        assert f"fatal: [{name}]: UNREACHABLE!" in text, done.stdout[-3000:]
        assert f"Could not resolve hostname {name}" in text
    assert "TASK [common" not in done.stdout  # the later plays found no host left to configure
