"""The configuration reference (docs/reference/configuration.md, generated from the roles as the site is built) lists
every role variable with a description, and the default it shows is the role's own (defaults/main.yml)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from tests.support.roles import ROLES as ROLE_DIRS
from tests.support.roles import all_options, defaults
from tests.support.scripts import load_script

ROOT = Path(__file__).resolve().parents[2]


reference = load_script(ROOT / "docs/_ext/configuration_reference.py", "configuration_reference")
ROLES = reference.roles()


def sections(page: str) -> dict[str, str]:
    """{variable: its section of the page}."""
    parts = re.split(r"^### `([a-z0-9_]+)`$", page, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


PAGE = sections(reference.render(ROLES))


def test_every_role_variable_has_a_description():
    def missing(variables, where=""):
        for variable in variables:
            if not variable.description.strip():
                yield f"{variable.role}: {where}{variable.name}"
            yield from missing(variable.fields, f"{where}{variable.name}.")

    assert list(missing(v for role in ROLES for v in role.variables)) == []


def test_the_page_lists_every_variable_of_every_role():
    in_roles = set(all_options()) | {name for role in ROLE_DIRS for name in defaults(role)}
    assert sorted(in_roles - set(PAGE)) == []
    assert len(PAGE) == len(in_roles) >= 140


@pytest.mark.parametrize("role", sorted(ROOT.glob("roles/*/defaults/main.yml")), ids=lambda path: path.parts[-3])
def test_a_default_on_the_page_is_the_roles_default(role):
    """Read back from the rendered text, not from the generator's data."""
    wrong = []
    for name, value in (yaml.safe_load(role.read_text()) or {}).items():
        section = PAGE[name].strip()
        if section.splitlines()[0].endswith("default below"):
            block = section.split("Default:\n\n```yaml\n", 1)[1].split("```", 1)[0]
            if yaml.safe_load(block) != {name: value}:
                wrong.append(f"{name}: page {block!r}, role {value!r}")
            continue
        shown = re.search(r"default ``? ?(.+?) ?``?(?: ·|$)", section.splitlines()[0])
        expected = value.strip() if isinstance(value, str) and value.strip() else json.dumps(value)
        if not shown or shown.group(1) != expected:
            wrong.append(f"{name}: page {shown.group(1) if shown else None!r}, role {expected!r}")
    assert wrong == []


def test_a_required_variable_says_so_and_has_no_default():
    for role in ROLES:
        for variable in role.variables:
            first = PAGE[variable.name].strip().splitlines()[0]
            assert ("**required**" in first) == variable.required, variable.name
            if variable.required:
                assert "default" not in first, variable.name


def test_an_example_comes_from_a_sample_inventory():
    assert "Example (`inventories/local/group_vars/all.yml`):" in PAGE["slurm_partitions"]
    assert "Example (`inventories/production.example/group_vars/all.yml`):" in PAGE["accounts_users"]
