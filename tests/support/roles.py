"""The roles' own data as the tests read it: each role's argument specs and defaults, read one way."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.support.docker import ROOT

ROLES = sorted(path.parent.parent for path in ROOT.glob("roles/*/meta/argument_specs.yml"))


def specs(role: Path) -> dict[str, dict[str, Any]]:
    """{entry point: {option: spec}} of the role."""
    points = yaml.safe_load((role / "meta/argument_specs.yml").read_text())["argument_specs"]
    return {name: point.get("options") or {} for name, point in points.items()}


def defaults(role: Path) -> dict[str, Any]:
    path = role / "defaults/main.yml"
    return (yaml.safe_load(path.read_text()) or {}) if path.exists() else {}


def all_options() -> dict[str, dict[str, Any]]:
    """{option: spec} of every role's every entry point."""
    return {name: spec for role in ROLES for options in specs(role).values() for name, spec in options.items()}
