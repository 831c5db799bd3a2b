"""Which routes the proxy should have and has not (after a restart, none)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def missing_routes(routes: Mapping[str, Any], hub_spec: str, users: Mapping[str, Any]) -> list[str]:
    """The route specs missing from `routes`: the hub's, and those of ready servers (pending ones may lack one)."""
    missing = [] if hub_spec in routes else [hub_spec]
    for user in users.values():
        for spawner in user.spawners.values():
            if spawner.ready and spawner.proxy_spec not in routes:
                missing.append(spawner.proxy_spec)
    return missing
