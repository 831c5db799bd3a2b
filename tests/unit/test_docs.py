"""The documentation's snippets cannot rot: the YAML a site would paste is checked against the roles' argument
specs (and the places against their schema), the commands name make targets, playbooks and files that exist, and
the README stays a front door whose links resolve. The shell snippet of a user's own kernel runs as a user in
tests/e2e/test_docs_snippets.py; `make docs` fails on a link to a page or section that does not exist."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from hpchub.places import load_site

from tests.support.roles import all_options

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
# The pages a site engineer copies from.
PAGES = sorted([*DOCS.glob("tutorials/*.md"), *DOCS.glob("how-to/*.md"), DOCS / "reference/configuration.md"])
FENCE = re.compile(r"^```(\w+)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
# Inventory variables that are no role's own: the site model, and the sample inventory's own helpers.
SITE_VARIABLES = {"site_places", "site_environments"}


def blocks(language: str) -> list[tuple[str, str]]:
    found = []
    for page in PAGES:
        for lang, body in FENCE.findall(page.read_text()):
            if lang == language:
                found.append((str(page.relative_to(ROOT)), body))
    return found


OPTIONS = all_options()
YAML_BLOCKS = blocks("yaml")
SHELL_BLOCKS = blocks("sh")


def test_the_pages_have_snippets_to_check():
    assert len(YAML_BLOCKS) >= 8 and len(SHELL_BLOCKS) >= 10


@pytest.mark.parametrize(("page", "body"), YAML_BLOCKS, ids=[f"{p}:{i}" for i, (p, _) in enumerate(YAML_BLOCKS)])
def test_yaml_snippets_are_valid_inventory_values(page, body):
    values = yaml.safe_load(body)
    assert isinstance(values, dict), page
    unknown = sorted(set(values) - set(OPTIONS) - SITE_VARIABLES)
    assert unknown == [], f"{page}: not a variable of any role: {unknown}"
    if "site_places" in values:
        assert load_site(values["site_places"], values.get("site_environments"))[0]
    # Values with a template are checked where they are rendered, not here.
    plain = {name: value for name, value in values.items() if name in OPTIONS and "{{" not in str(value)}
    specs = {name: {key: val for key, val in OPTIONS[name].items() if key != "required"} for name in plain}
    result = ArgumentSpecValidator(specs).validate(plain)
    assert [str(error) for error in result.errors] == [], page


def makefile_targets() -> set[str]:
    return set(re.findall(r"^([a-z0-9-]+):", (ROOT / "Makefile").read_text(), re.MULTILINE))


def commands(body: str) -> list[list[str]]:
    lines = [line.split("  #", 1)[0].strip() for line in body.splitlines()]
    return [shlex.split(line) for line in lines if line and not line.startswith("#")]


@pytest.mark.parametrize(("page", "body"), SHELL_BLOCKS, ids=[f"{p}:{i}" for i, (p, _) in enumerate(SHELL_BLOCKS)])
def test_shell_snippets_name_what_exists(page, body):
    targets = makefile_targets()
    for words in commands(body):
        if words[0] == "make":
            named = [word for word in words[1:] if "=" not in word]
            assert set(named) <= targets, f"{page}: make {' '.join(named)}: no such target"
        if words[0].endswith("ansible-playbook"):
            playbook = next(word for word in words if word.startswith("deploy/"))
            assert (ROOT / playbook).exists(), f"{page}: {playbook}"
            assert words[0] == ".venv/bin/ansible-playbook", f"{page}: the pinned Ansible is .venv's"
        for word in words:  # the repository's own paths (a site's inventories/mysite is theirs)
            if re.match(r"^(inventories/(local|production\.example)|deploy|images|tests|tools|roles)/", word):
                path = word.split("*", 1)[0].rstrip("/")
                assert (ROOT / path).exists() or "secrets" in path, f"{page}: {word} does not exist"


def test_the_secrets_the_rotation_page_names_are_the_roles_own():
    page = (DOCS / "how-to/rotate-secrets.md").read_text()
    named = set(re.findall(r"^\| `([a-z0-9./-]+)`", page, re.MULTILINE))
    roles = "\n".join(path.read_text() for path in ROOT.glob("roles/*/tasks/*.yml"))
    for name in named - {"passwords/USER"}:
        assert name.split("/")[-1] in roles, f"rotate-secrets.md names {name}, which no role makes"


README = (ROOT / "README.md").read_text()


def test_the_readme_is_a_front_door():
    lines = README.splitlines()
    assert len(lines) <= 150
    assert "make up" in README and "make test" in README
    cells = [line for line in lines if line.startswith("|") and len(line) > 160]
    assert cells == [], "no paragraphs in table cells"


def test_the_readmes_links_resolve():
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", README):
        if not re.match(r"^[a-z]+://", target):
            assert (ROOT / target).exists(), f"README.md links to {target}, which does not exist"
