"""A workflow's definition: steps (a notebook with parameters, a command, or a gate a person approves), their
resources and dependencies. One schema for Python and YAML; every error names the step and the field.

YAML form:

    name: analysis
    defaults: {partition: debug, account: m1000, time: 10}
    steps:
      prepare: {notebook: prepare.ipynb, parameters: {alpha: 0.5}}
      check:   {gate: true, after: [prepare]}
      train:   {command: "python train.py", after: [check], cpus: 2, memory: 4G}
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from typing import Any

import yaml
from hpc_slurm import DurationError, parse_memory_mb
from hpc_slurm.jobs import SLURM_NAME, JobRequest

from hpc_workflow.graph import CycleError, order

NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")


class WorkflowError(ValueError):
    """A workflow that cannot be submitted as it is; the message names the step and field."""


@dataclass(frozen=True)
class Resources:
    """What one step's job asks Slurm for. None: Slurm's (or the workflow's defaults') choice."""

    partition: str | None = None
    account: str | None = None
    cpus: int | None = None
    memory: str | None = None  # Slurm's --mem: 500M, 4G
    time: int | None = None  # minutes
    nodes: int | None = None

    def merged_over(self, defaults: Resources) -> Resources:
        """These resources, with `defaults` where a field is unset."""
        return Resources(**{f.name: getattr(self, f.name) if getattr(self, f.name) is not None
                            else getattr(defaults, f.name) for f in fields(self)})  # fmt: skip


@dataclass(frozen=True)
class Step:
    """One step: exactly one of `notebook` (run by papermill with `parameters`), `command` (a shell command),
    or `gate` (holds its dependants until a person approves)."""

    name: str
    notebook: str | None = None
    command: str | None = None
    gate: bool = False
    parameters: dict[str, Any] = field(default_factory=dict)
    after: tuple[str, ...] = ()
    resources: Resources = Resources()

    @property
    def kind(self) -> str:
        return "notebook" if self.notebook else "command" if self.command else "gate"


@dataclass(frozen=True)
class Workflow:
    name: str
    steps: tuple[Step, ...]
    defaults: Resources = Resources()

    def __post_init__(self) -> None:
        check(self)

    @property
    def after(self) -> dict[str, tuple[str, ...]]:
        """Each step's dependencies, in the definition's order: the graph hpc_workflow.graph works on."""
        return {step.name: tuple(step.after) for step in self.steps}

    def step(self, name: str) -> Step:
        for step in self.steps:
            if step.name == name:
                return step
        raise WorkflowError(f"workflow {self.name}: no step named {name!r}")

    def resources(self, step: Step) -> Resources:
        return step.resources.merged_over(self.defaults)

    # YAML / dict form: the same schema both ways.

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        if defaults := resources_dict(self.defaults):
            out["defaults"] = defaults
        out["steps"] = {step.name: step_dict(step) for step in self.steps}
        return out

    def to_yaml(self) -> str:
        return str(yaml.safe_dump(self.to_dict(), sort_keys=False, default_flow_style=False))

    @classmethod
    def from_dict(cls, data: Any) -> Workflow:
        if not isinstance(data, dict):
            raise WorkflowError("a workflow is a mapping with name and steps")
        unknown = set(data) - {"name", "defaults", "steps"}
        if unknown:
            raise WorkflowError(f"workflow: unknown field(s) {', '.join(sorted(unknown))} (name, defaults, steps)")
        name = data.get("name")
        if not isinstance(name, str):
            raise WorkflowError("workflow: name is required (a string)")
        steps = data.get("steps")
        if not isinstance(steps, dict) or not steps:
            raise WorkflowError(f"workflow {name}: steps is required (a mapping of step name to step)")
        defaults = resources_from(data.get("defaults") or {}, f"workflow {name}: defaults")
        return cls(name, tuple(step_from(str(key), value) for key, value in steps.items()), defaults)

    @classmethod
    def from_yaml(cls, text: str) -> Workflow:
        try:
            return cls.from_dict(yaml.safe_load(text))
        except yaml.YAMLError as error:
            raise WorkflowError(f"not YAML: {error}") from None


RESOURCE_FIELDS = {f.name for f in fields(Resources)}
STEP_FIELDS = {"notebook", "command", "gate", "parameters", "after"} | RESOURCE_FIELDS


def resources_dict(resources: Resources) -> dict[str, Any]:
    return {f.name: getattr(resources, f.name) for f in fields(resources) if getattr(resources, f.name) is not None}


def step_dict(step: Step) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if step.notebook:
        out["notebook"] = step.notebook
    if step.command:
        out["command"] = step.command
    if step.gate:
        out["gate"] = True
    if step.parameters:
        out["parameters"] = dict(step.parameters)
    if step.after:
        out["after"] = list(step.after)
    out.update(resources_dict(step.resources))
    return out


def resources_from(data: Any, where: str) -> Resources:
    if not isinstance(data, dict):
        raise WorkflowError(f"{where}: a mapping of {', '.join(sorted(RESOURCE_FIELDS))}")
    unknown = set(data) - RESOURCE_FIELDS
    if unknown:
        raise WorkflowError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    return Resources(**data)


def step_from(name: str, data: Any) -> Step:
    where = f"step {name}"
    if not isinstance(data, dict):
        raise WorkflowError(f"{where}: a mapping with notebook, command or gate")
    unknown = set(data) - STEP_FIELDS
    if unknown:
        raise WorkflowError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    after = data.get("after", [])
    if isinstance(after, str):
        after = [after]
    if not isinstance(after, list) or not all(isinstance(a, str) for a in after):
        raise WorkflowError(f"{where}: after is a list of step names")
    parameters = data.get("parameters", {})
    if not isinstance(parameters, dict):
        raise WorkflowError(f"{where}: parameters is a mapping of name to value")
    resources = resources_from({k: v for k, v in data.items() if k in RESOURCE_FIELDS}, where)
    return Step(name, data.get("notebook"), data.get("command"), bool(data.get("gate", False)), parameters,
                tuple(after), resources)  # fmt: skip


def check_resources(resources: Resources, where: str) -> None:
    for key in ("partition", "account"):
        value = getattr(resources, key)
        if value is not None and not (isinstance(value, str) and SLURM_NAME.match(value)):
            raise WorkflowError(f"{where}: {key} {value!r} is not a Slurm name")
    for key in ("cpus", "time", "nodes"):
        value = getattr(resources, key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise WorkflowError(f"{where}: {key} must be a positive integer{' (minutes)' if key == 'time' else ''}")
    if resources.memory is not None and not (isinstance(resources.memory, str) and is_size(resources.memory)):
        raise WorkflowError(f"{where}: memory {resources.memory!r} is not Slurm's form (500M, 4G)")


def is_size(text: str) -> bool:
    try:
        parse_memory_mb(text)
    except DurationError:
        return False
    return True


def job_request(resources: Resources) -> JobRequest:
    """A step's job as Slurm gets it (hpc_slurm.jobs writes its options); the resources are checked."""
    memory = parse_memory_mb(resources.memory) if resources.memory is not None else None
    return JobRequest(partition=resources.partition or "", account=resources.account or "", nodes=resources.nodes,
                      cpus=resources.cpus, memory_mb=memory, time_minutes=resources.time)  # fmt: skip


def check(workflow: Workflow) -> None:
    """Everything that can be known without Slurm: names, one kind per step, types, dependencies, no cycle."""
    if not isinstance(workflow.name, str) or not NAME.match(workflow.name):
        raise WorkflowError(f"workflow name {workflow.name!r}: letters, digits, - and _, starting with a letter")
    check_resources(workflow.defaults, f"workflow {workflow.name}: defaults")
    seen: set[str] = set()
    for step in workflow.steps:
        where = f"step {step.name}"
        if not isinstance(step.name, str) or not NAME.match(step.name):
            raise WorkflowError(f"{where}: the name must be letters, digits, - and _, starting with a letter")
        if step.name in seen:
            raise WorkflowError(f"{where}: two steps have this name")
        seen.add(step.name)
        kinds = [kind for kind, set_ in (("notebook", step.notebook), ("command", step.command), ("gate", step.gate))
                 if set_]  # fmt: skip
        if len(kinds) != 1:
            raise WorkflowError(
                f"{where}: exactly one of notebook, command or gate (found {', '.join(kinds) or 'none'})"
            )
        if step.parameters and not step.notebook:
            raise WorkflowError(f"{where}: parameters are for notebook steps")
        if step.notebook is not None and not step.notebook.endswith(".ipynb"):
            raise WorkflowError(f"{where}: notebook {step.notebook!r} is not an .ipynb file")
        check_resources(step.resources, where)
    for step in workflow.steps:
        for dependency in step.after:
            if dependency not in seen:
                raise WorkflowError(f"step {step.name}: after names {dependency!r}, which is no step of this workflow")
            if dependency == step.name:
                raise WorkflowError(f"step {step.name}: after names the step itself")
    try:
        order(workflow.after)
    except CycleError as cycle:
        raise WorkflowError(f"workflow {workflow.name}: a cycle: {cycle}") from None
