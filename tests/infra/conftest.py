"""Fixtures for the cluster tests: the hosts of the running test cluster, read from the local inventory.

`make test-infra` brings the cluster up first (make cluster); these tests only look at it and run
jobs on it as its users, as an operator would.
"""

from __future__ import annotations

import pytest
import testinfra

from tests.support.infra import host, hosts_of


@pytest.fixture(scope="session", autouse=True)
def cluster_is_up() -> None:
    missing = [g for g in ("slurm_controller", "slurm_accounting", "compute", "login_nodes") if not hosts_of(g)]
    if missing:
        pytest.fail(f"no test cluster (groups {', '.join(missing)} empty): run `make cluster`")


@pytest.fixture(scope="session")
def login() -> testinfra.host.Host:
    return host(hosts_of("login_nodes")[0])


@pytest.fixture(scope="session")
def controller() -> testinfra.host.Host:
    return host(hosts_of("slurm_controller")[0])
