"""Fixtures for the image tests: throwaway containers of the built images, checked with testinfra.

Every container and network made here is removed at the end of the session, also when a test fails.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
import testinfra

from tests.support.docker import docker
from tests.support.hub_settings import render_hub_yaml
from tests.support.images import USERS_GROUP, Containers, image, published_port, wait_healthy


@pytest.fixture(scope="session")
def containers() -> Iterator[Containers]:
    if docker("info", check=False).returncode != 0:
        pytest.fail("no Docker engine answers: run `make prerequisites` (make test-images does)")
    for name in ("notebook", "hub", "proxy", "node"):
        if docker("image", "inspect", image(name), check=False).returncode != 0:
            pytest.fail(f"image {image(name)} missing: run `make images`")
    made = Containers()
    try:
        yield made
    finally:
        made.remove_all()


@pytest.fixture(scope="session")
def munge_key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    key = tmp_path_factory.mktemp("secrets") / "munge.key"
    key.write_bytes(secrets.token_bytes(1024))
    key.chmod(0o600)
    return key


@pytest.fixture(scope="session")
def slurm_conf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The least slurm.conf the Slurm commands start with (the cluster's real one comes from the roles)."""
    conf = tmp_path_factory.mktemp("slurm") / "slurm.conf"
    conf.write_text("ClusterName=imagetest\nSlurmctldHost=nowhere\n")
    return conf


@pytest.fixture(scope="session")
def hub_yaml(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """hub.yaml as the jupyterhub role renders it: the hub does not start without it. No admin: the inventory's
    (erin) is a user of the cluster's directory, which a lone hub container has not (the hub creates an admin at
    its start, and PAM's authenticator refuses a user the system does not know)."""
    return render_hub_yaml(tmp_path_factory.mktemp("hub-settings"), jupyterhub_admin_users=[])


@pytest.fixture(scope="session")
def hub_and_proxy(containers: Containers, munge_key: Path, slurm_conf: Path, hub_yaml: Path) -> dict[str, str]:
    """A hub and a proxy on their own network, the proxy published on 127.0.0.1 only."""
    net = containers.network()
    token = secrets.token_hex(32)
    proxy = containers.start(
        image("proxy"),
        ["--network", net, "--network-alias", "proxy", "--env", f"CONFIGPROXY_AUTH_TOKEN={token}",
         "--publish", "127.0.0.1::8000"],
    )  # fmt: skip
    hub = containers.start(
        image("hub"),
        ["--network", net, "--network-alias", "hub", "--env", f"CONFIGPROXY_AUTH_TOKEN={token}",
         "--env", f"HPCHUB_USERS_GROUP={USERS_GROUP}",
         "--volume", f"{munge_key}:/run/secrets/munge.key:ro", "--volume", f"{slurm_conf}:/etc/slurm/slurm.conf:ro",
         "--volume", f"{hub_yaml}:/etc/jupyterhub/hub.yaml:ro"],
    )  # fmt: skip
    wait_healthy(proxy)
    wait_healthy(hub)
    return {"hub": hub, "proxy": proxy, "url": f"http://127.0.0.1:{published_port(proxy, 8000)}"}


@pytest.fixture(scope="session")
def hub(hub_and_proxy: dict[str, str]) -> testinfra.host.Host:
    return testinfra.get_host(f"docker://root@{hub_and_proxy['hub']}")


@pytest.fixture(scope="session")
def proxy(hub_and_proxy: dict[str, str]) -> testinfra.host.Host:
    return testinfra.get_host(f"docker://{hub_and_proxy['proxy']}")


@pytest.fixture(scope="session")
def notebook_id(containers: Containers, slurm_conf: Path) -> str:
    cid = containers.start(image("notebook"), ["--volume", f"{slurm_conf}:/etc/slurm/slurm.conf:ro"])
    wait_healthy(cid)
    return cid


@pytest.fixture(scope="session")
def notebook(notebook_id: str) -> testinfra.host.Host:
    return testinfra.get_host(f"docker://root@{notebook_id}")
