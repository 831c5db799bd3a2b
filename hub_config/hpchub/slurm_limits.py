"""What Slurm allows a user, read live (sinfo, sacctmgr) and cached for a short time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass

from hpchub.options import Limits, PartitionLimits, parse_minutes

SINFO = ["sinfo", "--noheader", "--format=%R|%c|%m|%l|%D|%G"]


class SlurmUnavailable(RuntimeError):
    """A Slurm command failed or did not answer in time (controller or accounting down)."""


def parse_sinfo(text: str) -> dict[str, PartitionLimits]:
    """`sinfo --format=%R|%c|%m|%l|%D|%G` -> partition limits (the smallest node of each partition)."""
    partitions: dict[str, PartitionLimits] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        name, cpus, memory, timelimit, nodes, gres = line.strip().split("|")
        minutes = 365 * 1440 if timelimit in ("infinite", "UNLIMITED") else parse_minutes(timelimit)
        gpus = sum(int(part.rsplit(":", 1)[-1]) for part in gres.split(",") if part.startswith("gpu") and ":" in part)
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


def parse_qos_max_wall(text: str) -> dict[str, int]:
    """`sacctmgr -nP show qos format=name,maxwall` -> minutes of each QoS that has a MaxWall."""
    limits = {}
    for line in text.splitlines():
        name, _, max_wall = line.strip().partition("|")
        if name and max_wall and max_wall.upper() not in ("UNLIMITED", "INFINITE"):
            limits[name] = parse_minutes(max_wall)
    return limits


async def run(argv: Sequence[str], timeout: float = 10) -> str:
    """A Slurm command's output; SlurmUnavailable when it fails, or does not answer within `timeout` (then it is
    killed: with the controller hanging, every limits read or poll would otherwise leave one more behind)."""
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
    except OSError as error:
        raise SlurmUnavailable(f"{argv[0]}: {error}") from error
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError as error:
        proc.kill()
        await proc.wait()
        raise SlurmUnavailable(f"{argv[0]}: no answer within {timeout:g} s") from error
    if proc.returncode != 0:
        raise SlurmUnavailable(f"{argv[0]}: {err.decode(errors='replace').strip()[:200]}")
    return out.decode()


class LimitsCache:
    """Limits per user, read from Slurm at most once per `ttl` seconds."""

    def __init__(self, cluster: str, default_partition: str = "", ttl: float = 60) -> None:
        self.cluster = cluster
        self.default_partition = default_partition
        self.ttl = ttl
        self._cache: dict[str, tuple[float, Limits]] = {}

    async def for_user(self, user: str) -> Limits:
        cached = self._cache.get(user)
        if cached and time.monotonic() - cached[0] < self.ttl:
            return cached[1]
        partitions_text, assoc_text, qos_text = await asyncio.gather(
            run(SINFO),
            run(["sacctmgr", "--noheader", "--parsable2", "show", "user", "withassoc", "where", f"name={user}",
                 f"cluster={self.cluster}", "format=defaultaccount,account,qos,defaultqos"]),
            run(["sacctmgr", "--noheader", "--parsable2", "show", "qos", "format=name,maxwall"]),
        )  # fmt: skip
        assoc = parse_associations(assoc_text)
        limits = Limits(parse_sinfo(partitions_text), assoc.accounts, assoc.qos, (), self.default_partition,
                        assoc.default_qos, parse_qos_max_wall(qos_text))  # fmt: skip
        self._cache[user] = (time.monotonic(), limits)
        return limits
