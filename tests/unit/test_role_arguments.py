"""Each role's meta/argument_specs.yml agrees with its defaults/main.yml, so `required: true` means something.

An option that is required and also has a role default never fails (a site that forgot slurm_node_cpus got
2); an option documented with a default other than the role's misleads the site. The inventory check
(tests/unit/test_inventory_check.py) then fails a deploy whose inventory lacks a required option.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.support.roles import ROLES, defaults, specs

ROOT = Path(__file__).resolve().parents[2]


def test_every_role_has_defaults_and_argument_specs():
    roles = sorted(path.name for path in (ROOT / "roles").iterdir() if path.is_dir())
    assert [role.name for role in ROLES] == roles
    assert all((ROOT / "roles" / role / "defaults/main.yml").exists() for role in roles)


@pytest.mark.parametrize("role", ROLES, ids=[role.name for role in ROLES])
def test_no_option_is_both_required_and_defaulted(role):
    values = defaults(role)
    both = [f"{point}: {name}" for point, options in specs(role).items()
            for name, spec in options.items() if spec.get("required") and name in values]  # fmt: skip
    assert both == [], f"roles/{role.name}: required, yet defaults/main.yml gives a value (drop one)"


@pytest.mark.parametrize("role", ROLES, ids=[role.name for role in ROLES])
def test_a_documented_default_is_the_roles_default(role):
    values = defaults(role)
    wrong = [f"{name}: documented {spec['default']!r}, defaults/main.yml {values.get(name, 'nothing')!r}"
             for options in specs(role).values() for name, spec in options.items()
             if "default" in spec and (name not in values or values[name] != spec["default"])]  # fmt: skip
    assert wrong == [], f"roles/{role.name}"


@pytest.mark.parametrize("role", ROLES, ids=[role.name for role in ROLES])
def test_every_default_is_a_documented_option(role):
    options = {name for point in specs(role).values() for name in point}
    assert sorted(set(defaults(role)) - options) == [], f"roles/{role.name}: defaults without an argument spec"


def test_the_required_options_are_the_site_facts():
    """What a site must set: the list the production example and the inventory check follow."""
    required = {name for role in ROLES for name, spec in specs(role).get("main", {}).items() if spec.get("required")}
    assert required == {
        "accounts_users_group", "accounts_users", "slurm_cluster_name", "slurm_node_cpus",
        "slurm_node_real_memory", "slurm_partitions", "slurm_accounts",
    }  # fmt: skip


def test_the_production_example_sets_every_required_option():
    example = yaml.safe_load((ROOT / "inventories/production.example/group_vars/all.yml").read_text())
    local = yaml.safe_load((ROOT / "inventories/local/group_vars/all.yml").read_text())
    required = {name for role in ROLES for name, spec in specs(role).get("main", {}).items() if spec.get("required")}
    assert sorted(required - set(example)) == []
    assert sorted(required - set(local)) == []


def test_the_inventory_check_knows_where_each_role_of_site_yml_runs():
    plays = yaml.safe_load((ROOT / "deploy/site.yml").read_text())
    where: dict[str, set[str]] = {}
    for play in plays:
        for role in play.get("roles", []):
            where.setdefault(role["role"], set()).add(play["hosts"])
    checked = defaults(ROOT / "roles/inventory_check")["inventory_check_role_hosts"]
    assert set(checked) == set(where) - {"inventory_check"}
    assert all(checked[role] in where[role] for role in checked)
