"""Places: where a site offers Jupyter servers (jupyterhub_places in the inventory), as the form shows them.

A place is a Slurm partition with a name, a description, a kind (login, compute or gpu), the values a new server
starts from there, and the ranges allowed there (within what Slurm allows the partition). Without places, the
form offers the partitions themselves.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

KINDS = ("login", "compute", "gpu")
RANGED = ("nodes", "cpus", "memory", "time", "gpus")  # memory in MB, time in minutes
DEFAULTED = (*RANGED, "qos", "account")
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
PARTITION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class PlacesError(ValueError):
    """A place of the inventory is wrong: the message names it and its field (jupyterhub_places[i].field)."""


@dataclass(frozen=True)
class Place:
    name: str
    partition: str
    description: str = ""
    kind: str = "compute"
    defaults: Mapping[str, str] = field(default_factory=dict)  # option field -> value, as a form would give it
    ranges: Mapping[str, tuple[int, int]] = field(default_factory=dict)  # field -> (low, high), both included


def _range(where: str, value: Any) -> tuple[int, int]:
    if (not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value)
            or value[0] > value[1]):  # fmt: skip
        raise PlacesError(f"{where}: must be [LOW, HIGH], whole numbers with LOW <= HIGH (got {value!r})")
    return int(value[0]), int(value[1])


def load_places(raw: Any, source: str = "jupyterhub_places") -> tuple[Place, ...]:
    """The inventory's places, checked; PlacesError naming the place and field when one is wrong."""
    if raw in (None, ""):
        return ()
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        raise PlacesError(f"{source}: must be a list of places")
    places: list[Place] = []
    for index, item in enumerate(raw):
        where = f"{source}[{index}]"
        if not isinstance(item, Mapping):
            raise PlacesError(f"{where}: must be a mapping (name, partition, description, kind, defaults, ranges)")
        unknown = sorted(set(item) - {"name", "partition", "description", "kind", "defaults", "ranges"})
        if unknown:
            raise PlacesError(f"{where}.{unknown[0]}: not a field of a place")
        name, partition = str(item.get("name", "")), str(item.get("partition", ""))
        if not NAME.match(name):
            raise PlacesError(f"{where}.name: {name!r} must be lower-case letters, digits, - or _ (up to 32)")
        if name in {place.name for place in places}:
            raise PlacesError(f"{where}.name: {name!r} is used twice")
        if not PARTITION.match(partition):
            raise PlacesError(f"{where}.partition: {partition!r} is not a Slurm partition name")
        kind = str(item.get("kind", "compute"))
        if kind not in KINDS:
            raise PlacesError(f"{where}.kind: {kind!r} must be one of {', '.join(KINDS)}")
        defaults = item.get("defaults") or {}
        ranges = item.get("ranges") or {}
        if not isinstance(defaults, Mapping) or not isinstance(ranges, Mapping):
            raise PlacesError(f"{where}: defaults and ranges must be mappings")
        for key in defaults:
            if key not in DEFAULTED:
                raise PlacesError(f"{where}.defaults.{key}: not a field with a default ({', '.join(DEFAULTED)})")
        for key in ranges:
            if key not in RANGED:
                raise PlacesError(f"{where}.ranges.{key}: not a field with a range ({', '.join(RANGED)})")
        places.append(
            Place(
                name=name,
                partition=partition,
                description=str(item.get("description", "")),
                kind=kind,
                defaults={str(key): str(value) for key, value in defaults.items()},
                ranges={str(key): _range(f"{where}.ranges.{key}", value) for key, value in ranges.items()},
            )
        )
    return tuple(places)


def main() -> None:
    """python -m hpchub.places < places.json: check the inventory's places (the jupyterhub role runs it before
    the hub starts); prints the error naming the place and field, and exits 1, when one is wrong."""
    import json
    import sys

    try:
        load_places(json.load(sys.stdin))
    except (PlacesError, ValueError) as error:
        raise SystemExit(str(error)) from None


if __name__ == "__main__":
    main()
