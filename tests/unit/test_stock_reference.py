"""make bench's reference spawner (packages/hpchub-bench, hpchub_bench.stock_reference) against the fake Slurm:
the REST option bench_profile=stock is taken out before parsing (any other value is refused), and a spawn that asks
for it starts with batchspawner's own start-up and stock launcher, the spawner's own traits restored after;
every other spawn is the hub's own start."""

from __future__ import annotations

import asyncio

import pytest
from batchspawner import SlurmSpawner
from hpchub.spawner import HpcSlurmSpawner
from hpchub_bench.stock_reference import StockReferenceSpawner
from tornado.web import HTTPError

from tests.unit.conftest import LAUNCHER, SERVER_CMD

STOCK_LAUNCHER = "/opt/jupyter/bin/batchspawner-singleuser"
STOCK_POLL = 0.02


@pytest.fixture
def spawner(make_spawner) -> StockReferenceSpawner:
    spawner = make_spawner(StockReferenceSpawner, stock_singleuser_cmd=STOCK_LAUNCHER)
    spawner.stock_startup_poll_interval = STOCK_POLL  # batchspawner's 0.5 s, shortened
    return spawner


def test_the_stock_start_up_polls_at_batchspawners_own_interval():
    default = SlurmSpawner.class_traits()["startup_poll_interval"].default_value
    assert StockReferenceSpawner.stock_startup_poll_interval == default == 0.5


def test_rest_bench_profile_stock_is_taken_out_before_parsing(spawner):
    asyncio.run(spawner._run_apply_user_options({"bench_profile": "stock", "cpus": 2}))
    assert spawner.spawn_options is not None and spawner.spawn_options.cpus == 2


def test_the_form_never_selects_the_stock_profile(spawner):
    user_options = asyncio.run(spawner.run_options_from_form({"bench_profile": ["stock"], "cpus": ["2"]}))
    assert "bench_profile" not in user_options and user_options["cpus"] == "2"


def test_another_bench_profile_is_refused_with_400(spawner):
    with pytest.raises(HTTPError) as refused:
        asyncio.run(spawner._run_apply_user_options({"bench_profile": "fast"}))
    assert (refused.value.status_code, refused.value.log_message) == (400, "bench_profile: the only profile is stock")
    assert spawner.spawn_options is None


def test_a_stock_spawn_runs_batchspawners_start_with_the_stock_launcher(spawner, fake_slurm):
    spawner.user_options = {"bench_profile": "stock"}
    seen = {}

    async def scenario():
        await spawner._run_apply_user_options(spawner.user_options)

        async def slurm_and_port():
            job = await fake_slurm.next_job()
            seen.update(launcher=spawner.batchspawner_singleuser_cmd, poll=spawner.startup_poll_interval)
            fake_slurm.running(job, "c7")
            spawner.report_port(45678)  # the port report; batchspawner's start does not wait for a listening server
            return job

        reporting = asyncio.ensure_future(slurm_and_port())
        address = await asyncio.wait_for(spawner.start(), 10)
        return await reporting, address

    job, address = asyncio.run(scenario())
    assert address == ("c7", 45678)
    assert seen == {"launcher": STOCK_LAUNCHER, "poll": STOCK_POLL}  # batchspawner's start-up, while it ran
    assert fake_slurm.script(job).rstrip().endswith(f"{STOCK_LAUNCHER} {SERVER_CMD}")
    assert (spawner.batchspawner_singleuser_cmd, spawner.startup_poll_interval) == (LAUNCHER, 0.01)  # restored


def test_the_traits_are_restored_when_a_stock_start_fails(spawner, fake_slurm):
    spawner.user_options = {"bench_profile": "stock"}

    async def scenario():
        await spawner._run_apply_user_options(spawner.user_options)
        ending = asyncio.ensure_future(fake_slurm.next_job())
        with pytest.raises(RuntimeError, match="disappeared"):
            starting = asyncio.ensure_future(spawner.start())
            fake_slurm.forget(await ending)
            await asyncio.wait_for(starting, 10)

    asyncio.run(scenario())
    assert (spawner.batchspawner_singleuser_cmd, spawner.startup_poll_interval) == (LAUNCHER, 0.01)


def test_any_other_spawn_is_the_hubs_own_start(spawner, monkeypatch):
    started = []

    async def ours(self):
        started.append((self.batchspawner_singleuser_cmd, self.startup_poll_interval))
        return "c1", 40000

    monkeypatch.setattr(HpcSlurmSpawner, "start", ours)
    spawner.user_options = {"cpus": "2"}
    assert asyncio.run(spawner.start()) == ("c1", 40000)
    assert started == [(LAUNCHER, 0.01)]
