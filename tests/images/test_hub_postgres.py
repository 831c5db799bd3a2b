"""jupyterhub_db_url switches the hub to a real PostgreSQL: the hub image against a PostgreSQL server.

The password goes in as a file (PGPASSWORD_FILE, what the jupyterhub role mounts), never in the URL,
hub.yaml or `docker inspect`.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from tests.support.docker import ROOT, docker
from tests.support.hub_settings import render_hub_yaml
from tests.support.images import USERS_GROUP, Containers, image, wait_healthy
from tests.support.waiting import wait_for

POSTGRES_IMAGE = "hpc-jupyterhub-deploy/test-postgres:latest"


@pytest.fixture(scope="module")
def postgres_image() -> str:
    # The base the product's images were built on (pulled, or made by debootstrap), and their CA bundle.
    label = '{{index .Config.Labels "org.opencontainers.image.base.name"}}'
    base = docker("inspect", "--format", label, image("hub")).stdout.strip()
    dockerfile = "tests/images/postgres/Dockerfile"
    built = docker("build", "--quiet", "--build-arg", f"BASE_IMAGE={base}", "--file", dockerfile,
                   "--tag", POSTGRES_IMAGE, str(ROOT), check=False)  # fmt: skip
    assert built.returncode == 0, built.stderr[-2000:]
    return POSTGRES_IMAGE


@pytest.fixture(scope="module")
def hub_on_postgres(containers: Containers, postgres_image: str, munge_key: Path, slurm_conf: Path,
                    tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:  # fmt: skip
    net = containers.network()
    password = secrets.token_hex(16)
    db = containers.start(postgres_image, ["--network", net, "--network-alias", "db",
                                           "--env", f"POSTGRES_PASSWORD={password}"])  # fmt: skip
    token = secrets.token_hex(32)
    proxy = containers.start(image("proxy"), ["--network", net, "--network-alias", "proxy",
                                              "--env", f"CONFIGPROXY_AUTH_TOKEN={token}"])  # fmt: skip
    folder = tmp_path_factory.mktemp("hub-postgres")
    # No admin: the inventory's is a user of the cluster's directory, which this hub has not.
    render_hub_yaml(folder, jupyterhub_db_url="postgresql://hub@db/jupyterhub", jupyterhub_admin_users=[])
    (folder / "db-password").write_text(password)
    (folder / "db-password").chmod(0o444)  # the container's root reads it; the role installs it 0400 root
    wait_healthy(db)
    hub = containers.start(image("hub"), [
        "--network", net, "--network-alias", "hub", "--env", f"CONFIGPROXY_AUTH_TOKEN={token}",
        "--env", "PGPASSWORD_FILE=/run/secrets/db-password", "--env", f"HPCHUB_USERS_GROUP={USERS_GROUP}",
        "--volume", f"{folder / 'db-password'}:/run/secrets/db-password:ro",
        "--volume", f"{folder / 'hub.yaml'}:/etc/jupyterhub/hub.yaml:ro",
        "--volume", f"{munge_key}:/run/secrets/munge.key:ro", "--volume", f"{slurm_conf}:/etc/slurm/slurm.conf:ro",
    ])  # fmt: skip
    wait_healthy(proxy)
    wait_healthy(hub)
    return {"db": db, "hub": hub, "password": password}


def psql(db: str, query: str) -> str:
    return docker("exec", db, "psql", "-d", "jupyterhub", "-tA", "-c", query).stdout.strip()


def test_the_hub_keeps_its_state_in_postgresql(hub_on_postgres):
    db = hub_on_postgres["db"]
    tables = set(psql(db, "SELECT tablename FROM pg_tables WHERE tableowner = 'hub'").split())
    assert {"users", "spawners", "api_tokens", "alembic_version"} <= tables
    assert psql(db, "SELECT count(*) FROM alembic_version") == "1"
    files = docker("exec", hub_on_postgres["hub"], "ls", "/srv/jupyterhub").stdout.split()
    assert "jupyterhub.sqlite" not in files


def test_the_state_survives_a_new_hub_container(hub_on_postgres):
    """The hub writes its server's OAuth client at start-up: a restarted hub finds what it wrote."""
    db, hub = hub_on_postgres["db"], hub_on_postgres["hub"]
    before = psql(db, "SELECT count(*) FROM oauth_clients")
    docker("restart", hub)
    wait_for("hub healthy again", lambda: docker("inspect", "--format", "{{.State.Health.Status}}", hub).stdout.strip()
             == "healthy", 90)  # fmt: skip
    assert psql(db, "SELECT count(*) FROM oauth_clients") == before != "0"


def test_the_password_is_not_in_the_container_config(hub_on_postgres):
    config = docker("inspect", hub_on_postgres["hub"]).stdout
    assert hub_on_postgres["password"] not in config
