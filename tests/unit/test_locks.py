"""The lock files: everything pinned, every wanted package locked, one JupyterHub across images."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LOCKS = {
    "notebook": ROOT / "images/notebook/requirements.txt",
    "hub": ROOT / "images/hub/requirements.txt",
    "tools": ROOT / "tools/requirements.txt",
}
NAME = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)")


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(lock: Path) -> dict[str, str]:
    found = {}
    for line in lock.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        assert "==" in line, f"{lock.name}: not pinned: {line!r}"
        name, version = line.split("==", 1)
        found[normalise(name)] = version.strip()
    return found


def wanted(spec: Path) -> set[str]:
    names = set()
    for line in spec.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            match = NAME.match(line)
            assert match, line
            names.add(normalise(match.group(1)))
    return names


@pytest.mark.parametrize("name", LOCKS)
def test_every_wanted_package_is_locked(name):
    lock = LOCKS[name]
    missing = wanted(lock.with_suffix(".in")) - set(pins(lock))
    assert not missing, f"{lock} lacks {missing}: run `make lock`"


@pytest.mark.parametrize("name", ["notebook", "hub"])
def test_image_locks_leave_out_the_excluded_packages(name):
    # The images install with --no-deps, so a package absent from the lock is absent from the image.
    excluded = wanted(ROOT / "images/excluded-packages.txt")
    assert excluded, "images/excluded-packages.txt names no package"
    assert not excluded & set(pins(LOCKS[name])), f"{LOCKS[name]} pins an excluded package: run `make lock`"


def test_hub_and_notebook_share_jupyterhub_and_batchspawner():
    hub, notebook = pins(LOCKS["hub"]), pins(LOCKS["notebook"])
    for package in ("jupyterhub", "batchspawner"):
        assert hub[package] == notebook[package], package


def test_packages_in_both_images_have_one_version():
    hub, notebook = pins(LOCKS["hub"]), pins(LOCKS["notebook"])
    differ = {name: (hub[name], notebook[name]) for name in hub.keys() & notebook.keys() if hub[name] != notebook[name]}
    assert not differ


def test_proxy_lock_matches_package_json():
    package = json.loads((ROOT / "images/proxy/package.json").read_text())
    lock = json.loads((ROOT / "images/proxy/package-lock.json").read_text())
    for dep, version in package["dependencies"].items():
        assert lock["packages"][f"node_modules/{dep}"]["version"] == version
    # No registry address in the lock: `npm ci` uses the site's configured registry.
    assert not [p for p in lock["packages"].values() if "resolved" in p]


def test_our_packages_have_the_projects_version():
    # hub_config/pyproject.toml, packages/*/pyproject.toml and VERSION (the images' tags) name one version.
    version = (ROOT / "VERSION").read_text().strip()
    for path in [ROOT / "hub_config/pyproject.toml", *sorted(ROOT.glob("packages/*/pyproject.toml"))]:
        assert tomllib.loads(path.read_text())["project"]["version"] == version, path


def test_hpchubs_dependencies_are_locked_or_ours():
    package = tomllib.loads((ROOT / "hub_config/pyproject.toml").read_text())["project"]
    ours = {
        normalise(tomllib.loads(path.read_text())["project"]["name"]) for path in ROOT.glob("packages/*/pyproject.toml")
    }
    hub, tools = pins(LOCKS["hub"]), pins(LOCKS["tools"])
    for dependency in package["dependencies"]:  # pinned in the hub image and, the same, in the unit tests' venv
        name = normalise(NAME.match(dependency).group(1))
        if name in ours:  # installed from packages/ into the image and, editable, into the venv
            assert name not in hub, f"{name} is ours: installed from packages/, not from the lock"
            continue
        assert name in hub and hub[name] == tools.get(name), f"{name}: hub {hub.get(name)}, tools {tools.get(name)}"
