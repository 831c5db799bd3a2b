"""The configuration reference, generated from the roles: each variable of each role's meta/argument_specs.yml with
its type, whether a site must set it, its default (the role's defaults/main.yml, the one place defaults live), its
description (the spec's, the one place variables are described) and, where the sample inventories set it, an
example. Sphinx appends it to reference/configuration.md as the page is read, so the page cannot drift from the
roles; `python docs/_ext/configuration_reference.py` prints it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
PAGE = "reference/configuration"
# Where examples come from, in order: the sample inventory of the local cluster, then the production example.
EXAMPLES = ("inventories/local/group_vars/all.yml", "inventories/local/group_vars/cluster.yml",
            "inventories/production.example/group_vars/all.yml")  # fmt: skip
NO_DEFAULT = object()


@dataclass(frozen=True)
class Variable:
    role: str
    name: str
    type: str
    required: bool
    description: str
    default: Any = NO_DEFAULT
    example: Any = NO_DEFAULT
    example_from: str = ""
    fields: tuple[Variable, ...] = field(default=())


@dataclass(frozen=True)
class Role:
    name: str
    summary: str
    variables: tuple[Variable, ...]


def _load(path: Path) -> dict[str, Any]:
    return (yaml.safe_load(path.read_text()) or {}) if path.exists() else {}


def _type(spec: dict[str, Any]) -> str:
    kind = str(spec.get("type", "str"))
    return f"{kind} of {spec['elements']}" if spec.get("elements") else kind


def _description(spec: dict[str, Any]) -> str:
    text = spec.get("description", "")
    return " ".join(text) if isinstance(text, list) else str(text).strip()


def _fields(role: str, spec: dict[str, Any]) -> tuple[Variable, ...]:
    return tuple(Variable(role, name, _type(sub), bool(sub.get("required")), _description(sub),
                          sub.get("default", NO_DEFAULT), fields=_fields(role, sub))
                 for name, sub in (spec.get("options") or {}).items())  # fmt: skip


def roles(root: Path = ROOT) -> list[Role]:
    """Every role's variables, in the order its argument spec gives them (entry points after main add theirs)."""
    examples = [(path, _load(root / path)) for path in EXAMPLES]
    found = []
    for spec_file in sorted(root.glob("roles/*/meta/argument_specs.yml")):
        role_dir = spec_file.parent.parent
        points = _load(spec_file)["argument_specs"]
        defaults = _load(role_dir / "defaults/main.yml")
        seen: dict[str, Variable] = {}
        for point in points.values():
            for name, spec in (point.get("options") or {}).items():
                if name in seen:
                    continue
                example_from, example = next(((path, values[name]) for path, values in examples
                                              if name in values and "{{" not in str(values[name])),
                                             ("", NO_DEFAULT))  # fmt: skip
                seen[name] = Variable(role_dir.name, name, _type(spec), bool(spec.get("required")), _description(spec),
                                      defaults.get(name, NO_DEFAULT), example, example_from,
                                      _fields(role_dir.name, spec))  # fmt: skip
        summary = str(points.get("main", {}).get("short_description", ""))
        found.append(Role(role_dir.name, summary, tuple(seen.values())))
    return found


def _inline(value: Any) -> str:
    text = value.strip() if isinstance(value, str) and value.strip() else json.dumps(value)
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def _block(value: Any) -> list[str]:
    text = yaml.safe_dump(value, sort_keys=False, default_flow_style=False, width=100).rstrip()
    return ["```yaml", *text.splitlines(), "```"]


def _field_lines(fields: tuple[Variable, ...], depth: int = 0) -> list[str]:
    lines = []
    for sub in fields:
        facts = [sub.type, "required" if sub.required else ""]
        if sub.default is not NO_DEFAULT:
            facts.append(f"default {_inline(sub.default)}")
        head = f"{'  ' * depth}- `{sub.name}` ({', '.join(fact for fact in facts if fact)})"
        lines.append(f"{head}: {sub.description}" if sub.description else head)
        lines += _field_lines(sub.fields, depth + 1)
    return lines


def _fits_a_line(value: Any) -> bool:
    return "\n" not in _inline(value) and len(_inline(value)) <= 100


def render_variable(variable: Variable) -> list[str]:
    facts = [f"**{variable.type}**", "**required**: a site must set it" if variable.required else "optional"]
    has_default = variable.default is not NO_DEFAULT
    if has_default:
        facts.append(f"default {_inline(variable.default)}" if _fits_a_line(variable.default) else "default below")
    lines = [f"### `{variable.name}`", "", " · ".join(facts), "", variable.description, ""]
    if has_default and not _fits_a_line(variable.default):
        lines += ["Default:", "", *_block({variable.name: variable.default}), ""]
    if variable.fields:
        lines += ["Fields:", "", *_field_lines(variable.fields), ""]
    if variable.example is not NO_DEFAULT and variable.example != variable.default:
        lines += [f"Example (`{variable.example_from}`):", "", *_block({variable.name: variable.example}), ""]
    return lines


def render(found: list[Role]) -> str:
    count = sum(len(role.variables) for role in found)
    lines = [f"{count} variables in {len(found)} roles, read from the roles as this page was built.", ""]
    for role in found:
        lines += [f"## Role `{role.name}`", "", f"{role.summary}. Its files: `roles/{role.name}/`.", ""]
        for variable in role.variables:
            lines += render_variable(variable)
    return "\n".join(lines)


def _append(app: Any, docname: str, source: list[str]) -> None:
    if docname == PAGE:
        source[0] += "\n\n" + render(roles()) + "\n"


def setup(app: Any) -> dict[str, Any]:
    app.connect("source-read", _append)
    app.connect("env-get-outdated", lambda *_: [PAGE])  # read anew at every build: the roles may have changed
    return {"parallel_read_safe": True, "parallel_write_safe": True}


if __name__ == "__main__":
    print(render(roles()))
