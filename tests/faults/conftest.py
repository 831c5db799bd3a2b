"""Faults and hostile input against what `make up` started (make test-faults).

Before each fault, servers of three users run (`servers`); after it, the same servers answer through
the proxy, no job was lost and no job is left in Slurm without a server in the hub (`check_intact`).
Each module brings what it needs (a module runs alone: `pytest tests/faults/test_4_isolation.py`);
`make test-faults` runs them in their numbered order, the slow, destructive ones (make down) last.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support.cluster import USERS, Server, start_server
from tests.support.hubclient import HUB, hub_healthy


@pytest.fixture(scope="session", autouse=True)
def hub_is_up() -> None:
    if not hub_healthy():
        pytest.fail(f"no hub at {HUB}: run `make up`")


@pytest.fixture
def servers() -> Iterator[dict[str, Server]]:
    """Servers of alice, bob and dave, running (started if need be, at once) and answering through the proxy."""
    with ThreadPoolExecutor(max_workers=len(USERS)) as pool:
        running = dict(zip(USERS, pool.map(start_server, USERS), strict=True))
    yield running
