"""What Slurm allows a user, read live (sinfo, sacctmgr) and cached for a short time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

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


def parse_associations(text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """`sacctmgr -nP show assoc format=account,qos` -> (accounts, QoS), in Slurm's order, no duplicates."""
    accounts: list[str] = []
    qos: list[str] = []
    for line in text.splitlines():
        if "|" not in line:
            continue
        account, qos_list = line.strip().split("|", 1)
        if account and account not in accounts:
            accounts.append(account)
        qos.extend(q for q in qos_list.split(",") if q and q not in qos)
    return tuple(accounts), tuple(qos)


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
        partitions_text, assoc_text = await asyncio.gather(
            run(SINFO),
            run(["sacctmgr", "--noheader", "--parsable2", "show", "assoc",
                 "where", f"user={user}", f"cluster={self.cluster}", "format=account,qos"]),
        )  # fmt: skip
        accounts, qos = parse_associations(assoc_text)
        limits = Limits(parse_sinfo(partitions_text), accounts, qos, (), self.default_partition)
        self._cache[user] = (time.monotonic(), limits)
        return limits
