"""make bench's reference: batchspawner's own start-up on the same hub, for REST spawns that ask for it.

Not part of the production spawner: `jupyterhub_config.py` uses this subclass only where the inventory
sets `jupyterhub_bench_profiles: true` (the local inventory does, for `make bench`). A REST spawn whose
`user_options` hold `bench_profile: stock` then starts with stock batchspawner's launcher
(`batchspawner-singleuser`) and its start-up polling; every other spawn is ours, unchanged. The option
is read from the request's own `user_options` at start, so nothing is kept on the spawner between spawns,
and the form (whose values are re-written by `as_user_options`) never selects it.
"""

from __future__ import annotations

from typing import Any

from batchspawner import SlurmSpawner
from hpchub.options import SpawnOptions
from hpchub.spawner import HpcSlurmSpawner
from tornado import web
from traitlets import Unicode

PROFILE = "bench_profile"
STOCK = ("stock", ["stock"])  # a REST value, or a form field's list


class StockReferenceSpawner(HpcSlurmSpawner):
    stock_singleuser_cmd = Unicode("batchspawner-singleuser", help="The stock launcher (bench profile).").tag(
        config=True
    )
    stock_startup_poll_interval = 0.5  # batchspawner's own default

    async def parse(self, raw: dict[str, Any]) -> SpawnOptions:
        if PROFILE in raw:
            raw = dict(raw)
            if raw.pop(PROFILE) not in STOCK:
                raise web.HTTPError(400, "bench_profile: the only profile is stock")
        return await super().parse(raw)

    def wants_stock(self) -> bool:
        return (self.user_options or {}).get(PROFILE) in STOCK

    async def start(self) -> tuple[str, int]:
        if not self.wants_stock():
            return await super().start()
        ours = {"batchspawner_singleuser_cmd": self.stock_singleuser_cmd,
                "startup_poll_interval": self.stock_startup_poll_interval}  # fmt: skip
        for name, value in list(ours.items()):
            ours[name] = getattr(self, name)
            self.set_trait(name, value)
        try:
            ip, port = await SlurmSpawner.start(self)
            return ip, port
        finally:
            for name, value in ours.items():
                self.set_trait(name, value)
