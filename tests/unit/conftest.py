"""The unit tier's fixtures: the fake Slurm on PATH, and the hub's spawner built in-process against it.

`make_spawner()` builds an `HpcSlurmSpawner` (or a subclass) the way the hub does (`User._new_spawner` on an
in-memory database), for the user running the tests (pwd must know them), with the command shapes of
hub_config/jupyterhub_config.py pointed at the fake's commands, no sudo, and every interval tiny.
"""

from __future__ import annotations

import asyncio
import logging
import os
import pwd
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support.fake_slurm import FakeSlurm

USER = pwd.getpwuid(os.getuid()).pw_name
HOME = pwd.getpwuid(os.getuid()).pw_dir
# sacctmgr's defaultaccount|account|qos|defaultqos lines of USER
ASSOCIATIONS = "m1000|m1000|normal,debug|normal\nm1000|m2000|normal|normal\n"
LAUNCHER = "hpchub-singleuser"
SERVER_CMD = "jupyterhub-singleuser"


async def until(what: str, probe: Callable[[], object], timeout: float = 10.0) -> None:
    """Poll `probe` in the running event loop until it is true; fail naming `what` at the deadline."""
    ends = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > ends:
            raise AssertionError(f"{what}: not within {timeout} s")
        await asyncio.sleep(0.01)


def in_memory_db() -> Any:
    """A session on a new in-memory hub database: JupyterHub's tables, without orm.new_session_factory's
    alembic stamp (whose logging.config.fileConfig would replace the root logger's handlers, caplog's too)."""
    from jupyterhub import orm
    from sqlalchemy import create_engine
    from sqlalchemy.orm import sessionmaker
    from sqlalchemy.pool import StaticPool

    engine = create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
    orm.Base.metadata.create_all(engine)
    return sessionmaker(bind=engine, expire_on_commit=False)()


@pytest.fixture
def fake_slurm(tmp_path, monkeypatch) -> Iterator[FakeSlurm]:
    """The fake Slurm, first on PATH (hpchub.slurm_limits calls sinfo, sacctmgr and sacct by name)."""
    fake = FakeSlurm(tmp_path, associations={USER: ASSOCIATIONS})
    monkeypatch.setenv("PATH", f"{fake.dir}{os.pathsep}{os.environ.get('PATH', '')}")
    yield fake
    fake.heal()  # a command left hanging answers and exits


@pytest.fixture
def spawner_log() -> logging.Logger:
    return logging.getLogger("test.spawner")


@pytest.fixture
def make_spawner(fake_slurm, monkeypatch, spawner_log) -> Callable[..., Any]:
    """`make_spawner(cls=HpcSlurmSpawner, **traits)`: a spawner of USER's default server, not started."""
    from hpchub.spawner import HpcSlurmSpawner
    from jupyterhub import orm
    from jupyterhub.objects import Hub, Server
    from jupyterhub.user import User

    # One hub per test: its settings, which every user shares, hold what the spawners share (hpchub.hub_state).
    hub_settings: dict[str, Any] = {"hub": Hub()}

    def make(cls: type[HpcSlurmSpawner] = HpcSlurmSpawner, **traits: Any) -> HpcSlurmSpawner:
        db = in_memory_db()
        orm_user = orm.User(name=USER)
        db.add(orm_user)
        db.add(orm.Spawner(name="", user=orm_user))
        orm_server = orm.Server()
        db.add(orm_server)
        db.commit()
        settings = {
            "cmd": [SERVER_CMD],
            "exec_prefix": "",
            "batchspawner_singleuser_cmd": LAUNCHER,
            "batch_submit_cmd": f"{fake_slurm.path('sbatch')} --parsable",
            "batch_query_cmd": f"{fake_slurm.path('squeue')} -h -j {{job_id}} -o '%T %r %B'",
            "batch_cancel_cmd": f"{fake_slurm.path('scancel')} {{job_id}}",
            "req_srun": "",
            "cluster_name": "test",
            "default_partition": "debug",
            "server_poll_interval": 0.01,
            "job_check_interval": 0.02,
            "startup_poll_interval": 0.01,
            "cancel_retry_interval": 0.01,
            "user_lookup_wait": 0.05,
            "log": spawner_log,
            **traits,
        }
        user = User(orm_user, hub_settings)
        spawner: HpcSlurmSpawner = user._new_spawner("", spawner_class=cls, **settings)
        spawner.server = Server(orm_server=orm_server)
        spawner.user_lookup_step = 0.01
        spawner.stop_check_interval = 0.01
        user.spawners[""] = spawner
        return spawner

    return make
