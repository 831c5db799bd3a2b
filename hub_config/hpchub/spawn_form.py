"""The spawn form: a view-model drawn from the same limits the parser (hpchub.options) enforces, as data, and
its rendering by templates/spawn_form.html (the place switcher's script is templates/spawn_form.js).

`form_view` is pure: the user's limits, how busy the partitions are, the server's last options and the user's
last choices per place in, a `FormView` out (tested as data); `render` turns it into the form's HTML.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from hpchub.options import OptionsError, SpawnOptions, field_bounds, max_time_minutes, parse_options
from hpchub.slurm_limits import Availability, Limits

TEMPLATES = Path(__file__).parent / "templates"
_ENVIRONMENT = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, keep_trailing_newline=False
)


@dataclass(frozen=True)
class Field:
    """One input: a choice of names (`choices`) or a number from `low` to `high`."""

    name: str
    label: str
    value: str | int
    choices: tuple[str, ...] | None = None  # a choice of names, else a number
    low: int = 0
    high: int = 0
    labels: tuple[str, ...] = ()  # what the form shows for each choice (default: its name)

    def options(self) -> tuple[tuple[str, str], ...]:
        """(value, label) of each choice."""
        choices = self.choices or ()
        return tuple(zip(choices, self.labels if len(self.labels) == len(choices) else choices, strict=True))


@dataclass(frozen=True)
class PlaceChoice:
    """A place in the form's first field; `fields`: each field's bounds and value there, for the switcher."""

    name: str
    label: str
    fields: Mapping[str, Mapping[str, object]]
    selected: bool = False


@dataclass(frozen=True)
class FormView:
    """What the form shows: an alert instead of a form, or its fields (with places: the place, then the fields,
    then the advanced ones) and the notes under it (Slurm's limits and how busy each partition is)."""

    alert: str = ""
    places: tuple[PlaceChoice, ...] = ()
    fields: tuple[Field, ...] = ()
    advanced: tuple[Field, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)


NO_ACCOUNT = "You have no Slurm account to charge: ask for one to be added."
NO_PLACE = "None of the places is open to you: ask for a project that allows one."


def user_max_gpus(limits: Limits) -> int:
    """The most GPUs per node any of the user's projects allows on any partition (0: the form shows no GPUs)."""
    most = max((p.max_gpus_per_node for p in limits.partitions.values()), default=0)
    allowed = (limits.max_gpus(account) for account in limits.accounts)
    return min(most, max((most if limit is None else limit for limit in allowed), default=0))


def partition_notes(limits: Limits, now: Mapping[str, Availability]) -> tuple[str, ...]:
    """Each partition's limits and how busy it is now, and the QoS' time limits: the lines under the form."""
    return tuple(
        f"{p.name}: up to {p.max_nodes} nodes, {p.max_cpus_per_node} CPUs and {p.max_memory_mb_per_node} MB per node, "
        f"{p.max_time_minutes} min" + (f", {p.max_gpus_per_node} GPUs per node" if p.max_gpus_per_node else "")
        + (f" ({now[p.name].describe()})" if p.name in now else "")
        for p in limits.partitions.values()
    ) + tuple(f"QoS {name}: up to {minutes} min" for name, minutes in limits.qos_max_minutes.items()
              if name in limits.qos)  # fmt: skip


def form_view(limits: Limits, now: Mapping[str, Availability], last_options: Mapping[str, Any],
              last_choices: Mapping[str, Mapping[str, str]],
              environments: Mapping[str, str] | None = None) -> FormView:  # fmt: skip
    """The form for these limits: `last_options` are the server's last user_options, `last_choices` the user's
    last choices per place (or partition), `environments` the site's environments' descriptions by name."""
    if not limits.accounts:
        return FormView(alert=NO_ACCOUNT)
    if limits.places:
        return _places_view(limits, now, last_options, last_choices, environments or {})
    # The server's last choices, where Slurm still allows them, except GPUs: the field cannot follow a change
    # of partition, so a count kept from a GPU partition would refuse the spawn in any other.
    last = {key: value for key, value in last_options.items() if key != "gpus"}
    try:
        chosen = parse_options(last, limits)
    except OptionsError:
        chosen = parse_options({}, limits)
    part = limits.partitions[chosen.partition]
    fields = [
        Field("partition", "Partition", chosen.partition, tuple(limits.partitions)),
        Field("account", "Account (project)", chosen.account, limits.accounts),
        Field("qos", "QoS", chosen.qos, limits.qos),
        Field("nodes", "Nodes", chosen.nodes, low=1, high=part.max_nodes),
        Field("cpus", "CPUs per node", chosen.cpus, low=1, high=part.max_cpus_per_node),
        Field("memory", "Memory per node (MB)", chosen.memory_mb, low=1, high=part.max_memory_mb_per_node),
        Field(
            "time",
            "Time limit (minutes)",
            chosen.time_minutes,
            low=1,
            high=max_time_minutes(limits, part, chosen.qos)[0],
        ),
    ]
    gpus = user_max_gpus(limits)
    if gpus:  # only for a user whose projects allow GPUs
        fields.append(Field("gpus", "GPUs per node", min(chosen.gpus, gpus), low=0, high=gpus))
    return FormView(fields=tuple(fields), notes=partition_notes(limits, now))


def choices_at(limits: Limits, last_choices: Mapping[str, Mapping[str, str]], place: str) -> SpawnOptions | None:
    """What the form shows for a place: the user's last choices there where Slurm still allows them, else the
    place's defaults; None for a place the user cannot use at all (a GPU place, and no project allows GPUs)."""
    for raw in ({**last_choices.get(place, {}), "place": place}, {"place": place}):
        try:
            return parse_options(raw, limits)
        except OptionsError:
            continue
    return None


def environment_label(name: str, environments: Mapping[str, str]) -> str:
    return f"{name}: {environments[name]}" if environments.get(name) else name


def _places_view(limits: Limits, now: Mapping[str, Availability], last_options: Mapping[str, Any],
                 last_choices: Mapping[str, Mapping[str, str]],
                 environments: Mapping[str, str]) -> FormView:  # fmt: skip
    """A site with places: the place (with its description), its environment where the site has them, CPUs,
    memory, time and GPUs; project, QoS and nodes under "Advanced". Each place's fields start from the user's last
    choices there."""
    gpus_allowed = user_max_gpus(limits)
    usable = {name: values for name in limits.places if (values := choices_at(limits, last_choices, name))}
    if not usable:
        return FormView(alert=NO_PLACE)
    last = str(last_options.get("place", ""))
    first = next((name for name, values in usable.items() if values.partition == limits.default_partition),
                 next(iter(usable)))  # fmt: skip
    chosen = last if last in usable else first
    places, bounds_at = [], {}
    for name, values in usable.items():
        place = limits.places[name]
        bounds = field_bounds(limits, limits.partitions[place.partition], place, values.qos)
        bounds["gpus"] = (min(bounds["gpus"][0], gpus_allowed), min(bounds["gpus"][1], gpus_allowed))
        bounds_at[name] = bounds
        numbers = {"nodes": values.nodes, "cpus": values.cpus, "memory": values.memory_mb,
                   "time": values.time_minutes, "gpus": min(values.gpus, gpus_allowed)}  # fmt: skip
        fields: dict[str, dict[str, object]] = {
            key: {"min": bounds[key][0], "max": bounds[key][1], "value": value} for key, value in numbers.items()
        }
        fields.update(account={"value": values.account}, qos={"value": values.qos})
        if place.environments:
            fields["environment"] = {"value": values.environment, "choices": [
                [name, environment_label(name, environments)] for name in place.environments]}  # fmt: skip
        busy = now.get(place.partition)
        label = f"{place.name}: {place.description or place.partition}" + (f" ({busy.describe()})" if busy else "")
        places.append(PlaceChoice(name, label, fields, name == chosen))
    values, bounds = usable[chosen], bounds_at[chosen]
    offered = limits.places[chosen].environments
    labels = tuple(environment_label(name, environments) for name in offered)
    main = [Field("environment", "Environment", values.environment, offered, labels=labels)] if offered else []
    main += [
        Field("cpus", "CPUs per node", values.cpus, low=bounds["cpus"][0], high=bounds["cpus"][1]),
        Field("memory", "Memory per node (MB)", values.memory_mb, low=bounds["memory"][0], high=bounds["memory"][1]),
        Field("time", "Time limit (minutes)", values.time_minutes, low=bounds["time"][0], high=bounds["time"][1]),
    ]
    if gpus_allowed:  # only for a user whose projects allow GPUs
        main.append(Field("gpus", "GPUs per node", min(values.gpus, gpus_allowed), low=bounds["gpus"][0],
                          high=bounds["gpus"][1]))  # fmt: skip
    advanced = (
        Field("account", "Account (project)", values.account, limits.accounts),
        Field("qos", "QoS", values.qos, limits.qos),
        Field("nodes", "Nodes", values.nodes, low=bounds["nodes"][0], high=bounds["nodes"][1]),
    )
    return FormView(places=tuple(places), fields=tuple(main), advanced=advanced, notes=partition_notes(limits, now))


def render(view: FormView) -> str:
    """The form's HTML (templates/spawn_form.html)."""
    return _ENVIRONMENT.get_template("spawn_form.html").render(view=view, json=json.dumps).strip()
