"""Spawn options: one typed schema for the form and the REST API alike.

Raw user input (form fields: lists of strings; REST `user_options`: JSON values) is parsed into
`SpawnOptions` against `Limits` read from live Slurm. Nothing raw survives parsing: every value is an
int within bounds or a name from an allowlist, so the batch script is built from known-safe values.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hpc_slurm import DurationError, parse_memory_mb, parse_minutes
from hpc_slurm.jobs import SLURM_NAME, FieldError, JobRequest, JobRequestError

from hpchub.places import Place
from hpchub.slurm_limits import Limits, PartitionLimits

INTEGER = re.compile(r"^[0-9]{1,9}$")
FIELDS = ("place", "environment", "partition", "account", "qos", "nodes", "cpus", "memory", "time", "gpus",
          "reservation")  # fmt: skip


class OptionsError(FieldError):
    """A refused spawn option: which field, and why, in words for the user."""


@dataclass(frozen=True)
class SpawnOptions:
    """A spawn request that Slurm can accept: bounded integers and allowlisted names only."""

    partition: str
    account: str
    qos: str
    nodes: int = 1
    cpus: int = 1
    memory_mb: int = 1024
    time_minutes: int = 60
    gpus: int = 0
    reservation: str | None = None
    place: str = ""  # the site's place (site_places) it was asked at; "" where the site defines none
    environment: str = ""  # the environment (site_environments) the server starts in; "": the site defines none


def _single(raw: Mapping[str, Any], name: str) -> str | None:
    """One value as text: a form gives a list of strings, REST gives a JSON scalar."""
    if name not in raw:
        return None
    value = raw[name]
    if isinstance(value, list):
        if len(value) != 1:
            raise OptionsError(name, "give one value")
        value = value[0]
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise OptionsError(name, "must be a number or a name")
    text = str(value).strip()
    if "\n" in text or "\r" in text or "\x00" in text:
        raise OptionsError(name, "must be one line")
    return text or None


def _integer(raw: Mapping[str, Any], name: str, default: int, low: int, high: int) -> int:
    text = _single(raw, name)
    if text is None:
        return default
    if not INTEGER.match(text):
        raise OptionsError(name, f"must be a whole number from {low} to {high}")
    value = int(text)
    if not low <= value <= high:
        raise OptionsError(name, f"must be from {low} to {high} (asked {value})")
    return value


def _choice(raw: Mapping[str, Any], name: str, allowed: tuple[str, ...], default: str | None) -> str | None:
    text = _single(raw, name)
    if text is None:
        return default
    if not SLURM_NAME.match(text) or text not in allowed:
        shown = ", ".join(allowed) if allowed else "none"
        raise OptionsError(name, f"{text[:40]!r} is not one of yours ({shown})")
    return text


def memory_field_mb(text: str) -> int:
    """The memory field (a Slurm size: '4096', '4096M', '4G', '1T') -> megabytes."""
    try:
        return parse_memory_mb(text)
    except DurationError:
        raise OptionsError("memory", "must be a size such as 4096M or 4G") from None


def time_field_minutes(text: str) -> int:
    """The time field (Slurm's forms: M, M:S, H:M:S, D-H, D-H:M, D-H:M:S) -> minutes, seconds rounding up."""
    try:
        minutes = parse_minutes(text)
    except DurationError:
        minutes = None
    if minutes is None:  # a word for "no limit" is Slurm's to say, not the user's
        raise OptionsError("time", "must be minutes, HH:MM:SS or D-HH:MM:SS")
    return minutes


def default_qos(limits: Limits) -> str:
    """The association's DefaultQOS where it is open to the user, else normal, else Slurm's first."""
    for candidate in (limits.default_qos, "normal"):
        if candidate and candidate in limits.qos:
            return candidate
    return (limits.qos or ("",))[0]


def max_time_minutes(limits: Limits, partition: PartitionLimits, qos: str) -> tuple[int, str]:
    """The longest time limit Slurm would start, and where the bound comes from (for the user's message): a
    QoS's MaxWall shorter than the partition's limit would leave the job pending for ever."""
    qos_minutes = limits.qos_max_minutes.get(qos)
    if qos_minutes is not None and qos_minutes < partition.max_time_minutes:
        return qos_minutes, f"with QoS {qos}"
    return partition.max_time_minutes, f"in {partition.name}"


def resolve_place(raw: Mapping[str, Any], limits: Limits) -> tuple[Place | None, dict[str, Any]]:
    """The place asked for (by name, or by its partition for a REST client that names one), and the raw values
    with the place's partition. No places: as given."""
    if not limits.places:
        return None, dict(raw)
    partition = _single(raw, "partition")
    if _single(raw, "place") is None and partition is not None:
        matching = [place for place in limits.places.values() if place.partition == partition]
        if not matching:
            raise OptionsError("partition", f"{partition[:40]!r} is not offered here: choose a place "
                               f"({', '.join(limits.places)})")  # fmt: skip
        chosen = matching[0]
    else:
        first = next((p for p in limits.places.values() if p.partition == limits.default_partition),
                     next(iter(limits.places.values())))  # fmt: skip
        name = _choice(raw, "place", tuple(limits.places), first.name)
        chosen = limits.places[name or first.name]
        if partition is not None and partition != chosen.partition:
            raise OptionsError("partition", f"place {chosen.name} runs in partition {chosen.partition}")
    return chosen, {**{key: value for key, value in raw.items() if key != "place"}, "partition": chosen.partition}


def place_default(place: Place | None, name: str, generic: int) -> int:
    """A field's default at a place (the inventory's), else `generic`: as a number (MB, minutes)."""
    text = place.defaults.get(name) if place else None
    if not text:
        return generic
    try:
        if name == "memory":
            return memory_field_mb(text)
        if name == "time":
            return time_field_minutes(text)
        return int(text) if INTEGER.match(text) else generic
    except OptionsError:
        return generic


Bounds = dict[str, tuple[int, int]]


def field_bounds(limits: Limits, partition: PartitionLimits, place: Place | None, qos: str) -> Bounds:
    """Each number field's bounds, for the parser and the form alike: Slurm's (the partition's, the QoS' MaxWall),
    narrowed by the place's ranges."""
    bounds = {
        "nodes": (1, partition.max_nodes),
        "cpus": (1, partition.max_cpus_per_node),
        "memory": (1, partition.max_memory_mb_per_node),
        "time": (1, max_time_minutes(limits, partition, qos)[0]),
        "gpus": (0, partition.max_gpus_per_node),
    }
    for name, (low, high) in place.ranges.items() if place else ():
        bounds[name] = (max(bounds[name][0], low), min(bounds[name][1], high))
    return bounds


def _clamped(value: int, bounds: tuple[int, int]) -> int:
    return min(max(value, bounds[0]), bounds[1])


def parse_options(raw: Mapping[str, Any], limits: Limits) -> SpawnOptions:
    """The one parser of spawn options, for the form and for REST. Raises OptionsError on bad input."""
    unknown = sorted(str(key)[:40] for key in raw if key not in FIELDS)
    if unknown:
        raise OptionsError(unknown[0], "is not a spawn option")
    if not limits.partitions:
        raise OptionsError("partition", "no partition is open to you")
    place, raw = resolve_place(raw, limits)
    at = f" at {place.name}" if place else ""
    default_partition = limits.default_partition or next(iter(limits.partitions))
    partition_name = _choice(raw, "partition", tuple(limits.partitions), default_partition)
    assert partition_name is not None
    partition = limits.partitions[partition_name]
    if not limits.accounts:
        raise OptionsError("account", "you have no Slurm account to charge: ask for one to be added")
    wanted = place.defaults if place else {}
    usual_account = wanted.get("account") if wanted.get("account") in limits.accounts else limits.accounts[0]
    account = _choice(raw, "account", limits.accounts, usual_account)
    qos = _choice(raw, "qos", limits.qos, wanted.get("qos") if wanted.get("qos") in limits.qos else default_qos(limits))
    bounds = field_bounds(limits, partition, place, qos or "")
    nodes = _integer(raw, "nodes", _clamped(place_default(place, "nodes", 1), bounds["nodes"]), *bounds["nodes"])
    cpus = _integer(raw, "cpus", _clamped(place_default(place, "cpus", 1), bounds["cpus"]), *bounds["cpus"])
    low, high = bounds["memory"]
    memory_text = _single(raw, "memory")
    memory_mb = (
        memory_field_mb(memory_text) if memory_text else _clamped(place_default(place, "memory", 1024), (low, high))
    )
    if not low <= memory_mb <= high:
        where = at or f" in {partition.name}"
        raise OptionsError("memory", f"must be {f'from {low}M to ' if low > 1 else 'at most '}{high}M{where}")
    time_text = _single(raw, "time")
    max_minutes, within = max_time_minutes(limits, partition, qos or "")
    low, high = bounds["time"]
    within = within if high == max_minutes else at.strip()
    time_minutes = (
        time_field_minutes(time_text) if time_text else _clamped(place_default(place, "time", 60), (low, high))
    )
    if not low <= time_minutes <= high:
        raise OptionsError("time", f"must be from {low} to {high} minutes {within}")
    gpus = _integer(raw, "gpus", _clamped(place_default(place, "gpus", 0), bounds["gpus"]), *bounds["gpus"])
    allowed = limits.max_gpus(account or "")
    if allowed is not None and gpus > allowed:
        raise OptionsError("gpus", f"project {account} allows {'no GPUs' if allowed == 0 else f'up to {allowed}'}")
    reservation = _choice(raw, "reservation", limits.reservations, None)
    environment = environment_at(raw, place)
    return SpawnOptions(
        partition=partition_name,
        account=account or "",
        qos=qos or "",
        nodes=nodes,
        cpus=cpus,
        memory_mb=memory_mb,
        time_minutes=time_minutes,
        gpus=gpus,
        reservation=reservation,
        place=place.name if place else "",
        environment=environment,
    )


def environment_at(raw: Mapping[str, Any], place: Place | None) -> str:
    """The environment asked for, where the place offers it; the place's default (its first) when none is."""
    offered = place.environments if place else ()
    text = _single(raw, "environment")
    if text is None:
        return offered[0] if offered else ""
    if text not in offered:
        where = f"at {place.name}" if place else "on this site"
        shown = f"offered there: {', '.join(offered)}" if offered else "this site offers no choice of environment"
        raise OptionsError("environment", f"{text[:40]!r} is not offered {where} ({shown})")
    return text


def job_request(options: SpawnOptions) -> JobRequest:
    """The server's job as Slurm gets it (hpc_slurm.jobs writes its options)."""
    return JobRequest(partition=options.partition, account=options.account, qos=options.qos, nodes=options.nodes,
                      cpus=options.cpus, memory_mb=options.memory_mb, time_minutes=options.time_minutes,
                      gpus=options.gpus, reservation=options.reservation or "")  # fmt: skip


def sbatch_directives(options: SpawnOptions) -> list[str]:
    """The #SBATCH lines for typed options (values are validated names and integers: nothing to escape)."""
    try:
        return job_request(options).directives()
    except JobRequestError as unsafe:
        raise OptionsError(unsafe.field, "unsafe value") from None
