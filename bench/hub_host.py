"""A hub host without Docker (issue 28): the hub and the proxy deployed as systemd services on a bare Debian host,
from nothing, then again (nothing to change), on make test-production's bare hosts (tests/production/hosts.py).

The rest of the site (cluster, directory) is deployed first, with the hub host left out (--limit); then the hub
host alone from bare, timed, and a second run, timed, with what it changed. The hosts are removed after. The
hub's venv and the proxy's packages come from PyPI and npm through this machine's proxy: the first run's time
is mostly theirs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.production import hosts

HUB_HOST = "prod-jupyter"


def measure(_rounds: int, say: Callable[[str], None]) -> dict[str, Any]:
    hosts.remove_all()
    hosts.make_inventory()
    hosts.start_hosts()
    hosts.wait_for_ssh()
    try:
        say("   the site without its hub host")
        rest = hosts.deploy("bench-site", "--limit", f"all:!{HUB_HOST}")
        assert rest.returncode == 0, rest.log[-3000:]
        say("   the hub host from bare, then again")
        first = hosts.deploy("bench-hub-1", "--limit", f"localhost:{HUB_HOST}")
        assert first.returncode == 0, first.log[-3000:]
        again = hosts.deploy("bench-hub-2", "--limit", f"localhost:{HUB_HOST}")
        assert again.returncode == 0, again.log[-3000:]
    finally:
        hosts.remove_all(files=False)
    return {
        "site_without_hub_host_s": rest.seconds,
        "hub_host_from_bare_s": first.seconds,
        "hub_host_from_bare_changed": first.changed.get(HUB_HOST, 0),
        "hub_host_again_s": again.seconds,
        "hub_host_again_changed": again.changed.get(HUB_HOST, 0),
    }
