"""Places: the site model (site_places in the inventory), where a site offers Jupyter servers and kernels.

A place is a Slurm partition with a name, a description, a kind (login, compute or gpu), the values a new server
starts from there, the ranges allowed there (within what Slurm allows the partition), optionally a kernel
that runs as a Slurm job there (the notebook_env role writes its spec, slurm-NAME), and the environments a server
may start in there (site_environments: a Jupyter prefix each, the first the default). Without places, the form
offers the partitions themselves. One schema, checked at the inventory check, by the jupyterhub role, in the hub
and for the kernels: sizes are Slurm's (4096, 4096M or 4G: MB; time in minutes or Slurm's forms).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hpc_slurm import DurationError, parse_memory_mb, parse_minutes
from hpc_slurm.durations import format_memory
from hpc_slurm.jobs import SLURM_NAME
from hpc_slurm.modules import bad_module

KINDS = ("login", "compute", "gpu")
RANGED = ("nodes", "cpus", "memory", "time", "gpus")  # memory in MB, time in minutes
DEFAULTED = (*RANGED, "qos", "account")
PLACE_FIELDS = ("name", "partition", "description", "kind", "defaults", "ranges", "kernel", "environments")
ENVIRONMENT_FIELDS = ("name", "description", "prefix", "lock", "shared", "modules")
KERNEL_FIELDS = ("cpus", "time", "memory", "gpus", "qos", "display_name")
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
PREFIX = re.compile(r"^/[A-Za-z0-9/._-]*$")

SOURCE = "site_places"
ENVIRONMENTS = "site_environments"


class PlacesError(ValueError):
    """A place of the inventory is wrong: the message names it and its field (site_places[i].field)."""


@dataclass(frozen=True)
class Kernel:
    """A place's kernel that runs as a Slurm job in the place's partition (its spec is slurm-PLACE)."""

    cpus: int = 1
    time_minutes: int = 30
    memory_mb: int = 0  # 0: the partition's default
    gpus: int = 0
    qos: str = ""
    display_name: str = ""


@dataclass(frozen=True)
class Place:
    name: str
    partition: str
    description: str = ""
    kind: str = "compute"
    defaults: Mapping[str, str] = field(default_factory=dict)  # option field -> value, as a form would give it
    ranges: Mapping[str, tuple[int, int]] = field(default_factory=dict)  # field -> (low, high), both included
    kernel: Kernel | None = None
    environments: tuple[str, ...] = ()  # site_environments offered here, the default first; () where none


@dataclass(frozen=True)
class Environment:
    """A Jupyter environment servers start in: a prefix on the nodes with jupyterhub-singleuser, which the
    notebook_env role builds from `lock` (with our launcher and packages), or checks where the site builds it."""

    name: str
    prefix: str
    description: str = ""
    lock: str = ""  # the lock the notebook_env role installs the prefix from; "": the site's own prefix
    shared: bool = False  # on a filesystem every node mounts: built once, by the first node
    modules: tuple[str, ...] = ()  # environment modules (Lmod) loaded before the server starts


def _range(where: str, value: Any) -> tuple[int, int]:
    if (not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value)
            or value[0] > value[1]):  # fmt: skip
        raise PlacesError(f"{where}: must be [LOW, HIGH], whole numbers with LOW <= HIGH (got {value!r})")
    return int(value[0]), int(value[1])


def _count(where: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit() or int(value) < low:
        raise PlacesError(f"{where}: must be a whole number from {low} (got {value!r})")
    return int(value)


def _kernel(where: str, raw: Any) -> Kernel:
    if not isinstance(raw, Mapping):
        raise PlacesError(f"{where}: must be a mapping ({', '.join(KERNEL_FIELDS)})")
    unknown = sorted(set(raw) - set(KERNEL_FIELDS))
    if unknown:
        raise PlacesError(f"{where}.{unknown[0]}: not a field of a kernel ({', '.join(KERNEL_FIELDS)})")
    try:
        minutes = parse_minutes(str(raw.get("time", 30)))
    except DurationError as error:
        raise PlacesError(f"{where}.time: {error}") from None
    if not minutes:
        raise PlacesError(f"{where}.time: must be a time limit (minutes or Slurm's D-HH:MM:SS)")
    memory = raw.get("memory") or 0
    try:
        memory_mb = parse_memory_mb(str(memory)) if memory else 0
    except DurationError as error:
        raise PlacesError(f"{where}.memory: {error}") from None
    qos = str(raw.get("qos", ""))
    if qos and not SLURM_NAME.match(qos):
        raise PlacesError(f"{where}.qos: {qos!r} is not a Slurm QoS name")
    return Kernel(_count(f"{where}.cpus", raw.get("cpus", 1), 1), minutes, memory_mb,
                  _count(f"{where}.gpus", raw.get("gpus", 0), 0), qos, str(raw.get("display_name", "")))  # fmt: skip


def _named_entries(
    raw: Any, source: str, what: str, fields: Sequence[str]
) -> Iterator[tuple[str, Mapping[str, Any], str]]:
    """Each entry of a list of the site model (places, environments): where it is (site_places[2]), its mapping and
    its name, once its list, its fields and its name are checked (a name used twice is refused)."""
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        raise PlacesError(f"{source}: must be a list of {what}s")
    names: set[str] = set()
    for index, item in enumerate(raw):
        where = f"{source}[{index}]"
        if not isinstance(item, Mapping):
            raise PlacesError(f"{where}: must be a mapping ({', '.join(fields)})")
        unknown = sorted(set(item) - set(fields))
        if unknown:
            raise PlacesError(f"{where}.{unknown[0]}: not a field of a{'n' if what[0] in 'aeiou' else ''} {what} "
                              f"({', '.join(fields)})")  # fmt: skip
        name = str(item.get("name", ""))
        if not NAME.match(name):
            raise PlacesError(f"{where}.name: {name!r} must be lower-case letters, digits, - or _ (up to 32)")
        if name in names:
            raise PlacesError(f"{where}.name: {name!r} is used twice")
        names.add(name)
        yield where, item, name


def load_environments(raw: Any, source: str = ENVIRONMENTS) -> tuple[Environment, ...]:
    """The inventory's environments, checked; PlacesError naming the environment and field when one is wrong."""
    if raw in (None, ""):
        return ()
    environments: list[Environment] = []
    for where, item, name in _named_entries(raw, source, "environment", ENVIRONMENT_FIELDS):
        prefix = str(item.get("prefix", ""))
        if not PREFIX.match(prefix) or "/../" in f"{prefix}/":
            raise PlacesError(f"{where}.prefix: {prefix!r} must be an absolute path (letters, digits, / . _ -)")
        prefix = prefix.rstrip("/") or "/"
        if prefix in {environment.prefix for environment in environments}:
            raise PlacesError(f"{where}.prefix: {prefix!r} is another environment's")
        shared = item.get("shared", False)
        if not isinstance(shared, bool):
            raise PlacesError(f"{where}.shared: must be true or false (got {shared!r})")
        modules = item.get("modules") or []
        if not isinstance(modules, Sequence) or isinstance(modules, str) or bad_module(modules):
            raise PlacesError(f"{where}.modules: must be a list of module names such as gcc/12.2 "
                              f"(got {bad_module(modules) if isinstance(modules, list) else modules!r})")  # fmt: skip
        environments.append(Environment(name, prefix, str(item.get("description", "")),
                                        str(item.get("lock") or ""), shared, tuple(modules)))  # fmt: skip
    return tuple(environments)


def _offered(where: str, raw: Any, environments: Sequence[Environment]) -> tuple[str, ...]:
    """A place's environments: names of site_environments, the default first; none given: the site's first."""
    names = tuple(environment.name for environment in environments)
    if raw in (None, "", []):
        return names[:1]
    if not isinstance(raw, Sequence) or isinstance(raw, str) or not all(isinstance(name, str) for name in raw):
        raise PlacesError(f"{where}.environments: must be a list of names of {ENVIRONMENTS}")
    for name in raw:
        if name not in names:
            raise PlacesError(
                f"{where}.environments: {name!r} is not one of {ENVIRONMENTS} ({', '.join(names) or 'none'})"
            )
    if len(set(raw)) != len(raw):
        raise PlacesError(f"{where}.environments: a name is listed twice")
    return tuple(raw)


def load_places(raw: Any, source: str = SOURCE, environments: Sequence[Environment] = ()) -> tuple[Place, ...]:
    """The inventory's places, checked (their environments against `environments`, site_environments); PlacesError
    naming the place and field when one is wrong."""
    if raw in (None, ""):
        if environments:
            raise PlacesError(f"{ENVIRONMENTS}: environments are offered at places: define {source} too")
        return ()
    places: list[Place] = []
    for where, item, name in _named_entries(raw, source, "place", PLACE_FIELDS):
        partition = str(item.get("partition", ""))
        if not SLURM_NAME.match(partition):
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
                kernel=_kernel(f"{where}.kernel", item["kernel"]) if item.get("kernel") is not None else None,
                environments=_offered(where, item.get("environments"), environments),
            )
        )
    return tuple(places)


def kernel_specs(places: Sequence[Place]) -> list[dict[str, Any]]:
    """The kernels of the places, as the notebook_env role writes their specs (slurm-NAME; sizes in Slurm's
    form: memory 4G or 1536M, "" for the partition's default; time in minutes)."""
    return [
        {"name": place.name, "partition": place.partition, "cpus": place.kernel.cpus,
         "time": place.kernel.time_minutes, "memory": format_memory(place.kernel.memory_mb) if place.kernel.memory_mb
         else "", "gpus": place.kernel.gpus, "qos": place.kernel.qos, "display_name": place.kernel.display_name}
        for place in places if place.kernel is not None
    ]  # fmt: skip


def load_site(places: Any, environments: Any) -> tuple[tuple[Place, ...], tuple[Environment, ...]]:
    """site_places and site_environments, checked together (a place names environments of the site's)."""
    loaded = load_environments(environments)
    return load_places(places, environments=loaded), loaded


def main() -> None:
    """python -m hpchub.places [--kernels | --environments] < site.json ({"places": site_places, "environments":
    site_environments}): check the inventory's site model (the inventory check runs it before any host is touched);
    prints the error naming the place or environment and its field, and exits 1, when one is wrong. With --kernels,
    prints the places' kernels as JSON (the notebook_env role renders their specs from it); with --environments,
    the environments (the notebook_env role builds or checks their prefixes)."""
    import json
    import sys

    try:
        site = json.load(sys.stdin)
        if not isinstance(site, dict):
            raise PlacesError('the site model must be {"places": [...], "environments": [...]}')
        places, environments = load_site(site.get("places"), site.get("environments"))
    except (PlacesError, ValueError) as error:
        raise SystemExit(str(error)) from None
    if "--kernels" in sys.argv[1:]:
        print(json.dumps(kernel_specs(places)))
    if "--environments" in sys.argv[1:]:
        print(json.dumps([{**vars(environment), "modules": list(environment.modules)} for environment in environments]))


if __name__ == "__main__":
    main()
