"""What Slurm allows a user, read live (sinfo, sacctmgr) and cached for a short time: Slurm's facts, which the
spawn options' parser (hpchub.options) checks requests against; nothing here imports the parser."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from hpc_slurm import SlurmError, arun, parse_minutes

from hpchub.places import Place

SINFO = ["sinfo", "--noheader", "--format=%R|%c|%m|%l|%D|%G"]
LOAD = ["sinfo", "--noheader", "--format=%R|%C|%t|%D"]  # CPUs allocated/idle/other/total, node state, nodes
PENDING = ["squeue", "--noheader", "--states=PENDING", "--format=%P"]

NO_LIMIT_MINUTES = 365 * 1440  # what the form offers where a partition has no time limit


@dataclass(frozen=True)
class PartitionLimits:
    """What one partition allows (from `scontrol show partition`)."""

    name: str
    max_nodes: int
    max_cpus_per_node: int
    max_memory_mb_per_node: int
    max_time_minutes: int
    max_gpus_per_node: int = 0


@dataclass(frozen=True)
class Limits:
    """What this user may ask for: partitions, and the accounts, QoS and reservations open to them."""

    partitions: Mapping[str, PartitionLimits]
    accounts: tuple[str, ...]  # the user's default account first
    qos: tuple[str, ...]
    reservations: tuple[str, ...] = ()
    default_partition: str = ""
    default_qos: str = ""  # the association's DefaultQOS
    qos_max_minutes: Mapping[str, int] = field(default_factory=dict)  # MaxWall of the QoS that have one
    account_max_gpus: Mapping[str, int] = field(default_factory=dict)  # MaxTRES gres/gpu of the accounts that have one
    places: Mapping[str, Place] = field(default_factory=dict)  # the site's places in partitions open to the user

    def max_gpus(self, account: str) -> int | None:
        """The GPUs a job charged to `account` may use; None when the account sets no limit."""
        return self.account_max_gpus.get(account)


def parse_sinfo(text: str) -> dict[str, PartitionLimits]:
    """`sinfo --format=%R|%c|%m|%l|%D|%G` -> partition limits (the smallest node of each partition)."""
    partitions: dict[str, PartitionLimits] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        name, cpus, memory, timelimit, nodes, gres = line.strip().split("|")
        shown = parse_minutes(timelimit)
        minutes = NO_LIMIT_MINUTES if shown is None else shown
        gpus = sum(int(part.split("(")[0].rsplit(":", 1)[-1]) for part in gres.split(",")
                   if part.startswith("gpu:"))  # gpu:2, gpu:a100:4, gpu:2(S:0-1)  # fmt: skip
        limits = PartitionLimits(name, int(nodes), int(cpus.rstrip("+")), int(memory.rstrip("+")), minutes, gpus)
        known = partitions.get(name)
        if known:  # several node kinds in one partition: promise only what every node has
            limits = PartitionLimits(
                name,
                known.max_nodes + limits.max_nodes,
                min(known.max_cpus_per_node, limits.max_cpus_per_node),
                min(known.max_memory_mb_per_node, limits.max_memory_mb_per_node),
                minutes,
                min(known.max_gpus_per_node, limits.max_gpus_per_node),
            )
        partitions[name] = limits
    return partitions


@dataclass(frozen=True)
class Associations:
    """The accounts and QoS open to one user."""

    accounts: tuple[str, ...] = ()  # the user's default account first, then Slurm's order
    qos: tuple[str, ...] = ()
    default_qos: str = ""


def parse_associations(text: str) -> Associations:
    """`sacctmgr -nP show user withassoc format=defaultaccount,account,qos,defaultqos` -> Associations."""
    default_account, default_qos = "", ""
    accounts: list[str] = []
    qos: list[str] = []
    for line in text.splitlines():
        if line.count("|") != 3:
            continue
        default, account, qos_list, account_default_qos = line.strip().split("|")
        default_account = default_account or default
        if account and account not in accounts:
            accounts.append(account)
        qos.extend(q for q in qos_list.split(",") if q and q not in qos)
        default_qos = default_qos or account_default_qos
    if default_account in accounts:
        accounts.remove(default_account)
        accounts.insert(0, default_account)
    return Associations(tuple(accounts), tuple(qos), default_qos)


def parse_account_gpus(text: str, user: str) -> dict[str, int]:
    """`sacctmgr -nP show assoc where account=... format=account,user,maxtres` -> each account's MaxTRES gres/gpu
    for `user`: the user's own association's limit where it sets one, else the account's (Slurm's inheritance)."""
    own: dict[str, int] = {}
    inherited: dict[str, int] = {}
    for line in text.splitlines():
        if line.count("|") != 2:
            continue
        account, name, max_tres = line.strip().split("|")
        for tres in max_tres.split(","):
            if tres.startswith("gres/gpu="):
                if name == user:
                    own[account] = int(tres.partition("=")[2])
                elif not name:
                    inherited[account] = int(tres.partition("=")[2])
    return {**inherited, **own}


def parse_qos_max_wall(text: str) -> dict[str, int]:
    """`sacctmgr -nP show qos format=name,maxwall` -> minutes of each QoS that has a MaxWall."""
    limits = {}
    for line in text.splitlines():
        name, _, max_wall = line.strip().partition("|")
        minutes = parse_minutes(max_wall) if name and max_wall else None
        if minutes is not None:
            limits[name] = minutes
    return limits


class LimitsCache:
    """Limits per user, read from Slurm at most once per `ttl` seconds. A user with no account is asked again
    each time: the directory sync may give them one at any moment (a new member of a project's group)."""

    def __init__(self, cluster: str, default_partition: str, ttl: float) -> None:
        self.cluster = cluster
        self.default_partition = default_partition
        self.ttl = ttl
        self._cache: dict[str, tuple[float, Limits]] = {}

    async def for_user(self, user: str) -> Limits:
        cached = self._cache.get(user)
        if cached and time.monotonic() - cached[0] < self.ttl:
            return cached[1]
        partitions_text, assoc_text, qos_text = await asyncio.gather(
            arun(SINFO),
            arun(["sacctmgr", "--noheader", "--parsable2", "show", "user", "withassoc", "where", f"name={user}",
                 f"cluster={self.cluster}", "format=defaultaccount,account,qos,defaultqos"]),
            arun(["sacctmgr", "--noheader", "--parsable2", "show", "qos", "format=name,maxwall"]),
        )  # fmt: skip
        assoc = parse_associations(assoc_text)
        partitions = parse_sinfo(partitions_text)
        gpus: dict[str, int] = {}
        if assoc.accounts and any(p.max_gpus_per_node for p in partitions.values()):  # GPU limits matter
            gpus = parse_account_gpus(await arun([
                "sacctmgr", "--noheader", "--parsable2", "show", "assoc", "where", f"cluster={self.cluster}",
                f"account={','.join(assoc.accounts)}", "format=account,user,maxtres"]), user)  # fmt: skip
        limits = Limits(partitions, assoc.accounts, assoc.qos, (), self.default_partition, assoc.default_qos,
                        parse_qos_max_wall(qos_text), gpus)  # fmt: skip
        if assoc.accounts:
            self._cache[user] = (time.monotonic(), limits)
        return limits


@dataclass(frozen=True)
class Availability:
    """How busy a partition is now: what the form shows beside it."""

    idle_nodes: int = 0
    idle_cpus: int = 0
    cpus: int = 0
    pending_jobs: int = 0

    def describe(self) -> str:
        nodes = f"{self.idle_nodes} idle node{'s' if self.idle_nodes != 1 else ''}"
        jobs = f"{self.pending_jobs} job{'s' if self.pending_jobs != 1 else ''} waiting"
        return f"now {self.idle_cpus} of {self.cpus} CPUs free, {nodes}, {jobs}"


def parse_availability(load: str, pending: str) -> dict[str, Availability]:
    """sinfo `%R|%C|%t|%D` lines and squeue's pending jobs' partitions -> each partition's availability."""
    found: dict[str, Availability] = {}
    for line in load.splitlines():
        if line.count("|") != 3:
            continue
        name, cpus, state, nodes = line.strip().split("|")
        _, idle, _, total = (int(part) for part in cpus.split("/"))
        known = found.get(name, Availability())
        idle_nodes = int(nodes) if state.rstrip("*~#!%$@^-") == "idle" else 0
        found[name] = Availability(known.idle_nodes + idle_nodes, known.idle_cpus + idle, known.cpus + total, 0)
    waiting: dict[str, int] = {}
    for line in pending.splitlines():
        for name in line.strip().split(","):  # a job may wait for any of several partitions
            if name:
                waiting[name] = waiting.get(name, 0) + 1
    return {name: Availability(a.idle_nodes, a.idle_cpus, a.cpus, waiting.get(name, 0)) for name, a in found.items()}


class AvailabilityCache:
    """Every partition's availability, for every user's form: one sinfo and one squeue per `ttl` seconds. When
    Slurm does not answer, the form goes without (an empty mapping), it is never refused for it."""

    def __init__(self, ttl: float = 10) -> None:
        self.ttl = ttl
        self._read: tuple[float, dict[str, Availability]] | None = None

    async def now(self) -> dict[str, Availability]:
        if self._read and time.monotonic() - self._read[0] < self.ttl:
            return self._read[1]
        try:
            load, pending = await asyncio.gather(arun(LOAD, timeout=5), arun(PENDING, timeout=5))
        except SlurmError:
            return {}
        self._read = (time.monotonic(), parse_availability(load, pending))
        return self._read[1]
