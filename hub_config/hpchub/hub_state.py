"""What the hub's spawners share, built once per hub and handed to each spawner: no class-level state.

JupyterHub gives every user (and so every spawner) the same settings mapping, its tornado settings; the state
lives there under one key, made at the first spawner's first use. A test's hub is a fresh mapping.
"""

from __future__ import annotations

import asyncio
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from typing import Any

from hpchub.slurm_limits import AvailabilityCache, LimitsCache
from hpchub.start_load import StartLoad

KEY = "hpchub_state"


@dataclass
class HubState:
    """Hub-wide: the Slurm limits per (cluster, default partition, ttl), every form's availability, the servers
    starting now, and the scancels being retried (kept referenced until done)."""

    start_load_step: int  # HpcSlurmSpawner.start_load_step: the one default
    limits: dict[tuple[str, str, float], LimitsCache] = field(default_factory=dict)
    availability: AvailabilityCache = field(default_factory=AvailabilityCache)
    retries: set[asyncio.Future[None]] = field(default_factory=set)
    start_load: StartLoad = field(init=False)

    def __post_init__(self) -> None:
        self.start_load = StartLoad(self.start_load_step)

    def limits_cache(self, cluster: str, default_partition: str, ttl: float) -> LimitsCache:
        key = (cluster, default_partition, ttl)
        if key not in self.limits:
            self.limits[key] = LimitsCache(cluster, default_partition, ttl)
        return self.limits[key]


def hub_state(settings: MutableMapping[str, Any], start_load_step: int) -> HubState:
    """The hub's state in its settings, made on first use."""
    state = settings.get(KEY)
    if not isinstance(state, HubState):
        state = settings[KEY] = HubState(start_load_step)
    return state
