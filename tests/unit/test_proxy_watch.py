"""The proxy watch (hub_config/hpchub/proxy_watch.py): `WatchedProxy` puts the routes back within seconds
of a proxy restart. Its parent's `get_all_routes` (the proxy's API) and `check_routes` (the hub's repair)
are stubbed: the hub's first check_routes starts the periodic watch; a tick with a route missing for a ready
server (or the hub) runs the parent's check_routes, a tick with nothing missing does not, an unreadable
route table is logged and skipped; route_check_interval 0 starts no watch."""

from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace
from typing import Any

import pytest
from hpchub.proxy_watch import WatchedProxy
from jupyterhub.proxy import ConfigurableHTTPProxy

from tests.unit.conftest import until

HUB_ROUTE = "/hub/"
LOG = logging.getLogger("test.proxy")


def users(*servers: tuple[str, bool]) -> dict[str, Any]:
    """The hub's user map: one user per (name, ready) with a default server at /user/<name>/."""
    return {
        name: SimpleNamespace(spawners={"": SimpleNamespace(ready=ready, proxy_spec=f"/user/{name}/")})
        for name, ready in servers
    }


class FakeProxyApi:
    """The parent's proxy API: a route table to read (or an error), and the repairs asked for (bound methods
    of this object replace the parent's: they do not receive the proxy)."""

    def __init__(self, routes: dict[str, Any]) -> None:
        self.routes = routes
        self.error: Exception | None = None
        self.reads = 0
        self.repairs: list[tuple[Any, Any, Any]] = []

    async def get_all_routes(self) -> dict[str, Any]:
        self.reads += 1
        if self.error:
            raise self.error
        return dict(self.routes)

    async def check_routes(self, user_dict: Any, service_dict: Any, routes: Any = None) -> None:
        self.repairs.append((user_dict, service_dict, routes))


@pytest.fixture
def api(monkeypatch) -> FakeProxyApi:
    fake = FakeProxyApi({HUB_ROUTE: {}, "/user/alice/": {}})
    monkeypatch.setattr(ConfigurableHTTPProxy, "get_all_routes", fake.get_all_routes)
    monkeypatch.setattr(ConfigurableHTTPProxy, "check_routes", fake.check_routes)
    return fake


def proxy(interval: float = 60.0) -> WatchedProxy:
    app = SimpleNamespace(hub=SimpleNamespace(routespec=HUB_ROUTE))
    return WatchedProxy(app=app, auth_token="secret", should_start=False, route_check_interval=interval, log=LOG)


def test_the_hubs_first_check_routes_starts_one_periodic_watch(api):
    watched = proxy(interval=0.01)
    user_dict = users(("alice", True))

    async def scenario():
        await watched.check_routes(user_dict, {})
        watch = watched._watch
        await watched.check_routes(user_dict, {})
        try:
            await until("two ticks of the watch", lambda: api.reads >= 2)
        finally:
            watched._watch.stop()
        return watch

    watch = asyncio.run(scenario())
    assert watch is not None and watched._watch is watch  # the second call started no other
    assert watch.callback_time == 10.0  # milliseconds
    assert api.repairs == [(user_dict, {}, None)] * 2  # the hub's own calls; the ticks found nothing missing


def test_a_tick_puts_back_the_route_of_a_ready_server(api, caplog):
    api.routes = {HUB_ROUTE: {}}  # the proxy restarted and the hub put its own route back
    user_dict = users(("alice", True), ("bob", False))
    with caplog.at_level(logging.WARNING, "test.proxy"):
        asyncio.run(proxy()._resync(user_dict, {"svc": None}))
    assert api.repairs == [(user_dict, {"svc": None}, {HUB_ROUTE: {}})]
    assert caplog.messages == ["The proxy lost 1 route(s) (restarted?): putting them back: /user/alice/"]


def test_a_tick_puts_back_the_hubs_route(api):
    api.routes = {}
    asyncio.run(proxy()._resync(users(), {}))
    assert api.repairs == [({}, {}, {})]


def test_a_tick_with_nothing_missing_repairs_nothing(api):
    asyncio.run(proxy()._resync(users(("alice", True), ("bob", False)), {}))  # bob, pending, may lack one
    assert api.reads == 1 and api.repairs == []


def test_an_unreadable_route_table_is_logged_and_skipped(api, caplog):
    api.error = ConnectionRefusedError("proxy:8001")
    with caplog.at_level(logging.WARNING, "test.proxy"):
        asyncio.run(proxy()._resync(users(("alice", True)), {}))
    assert api.repairs == []
    assert caplog.messages == ["Proxy routes unreadable: proxy:8001"]


def test_interval_0_starts_no_watch(api):
    watched = proxy(interval=0)
    asyncio.run(watched.check_routes(users(("alice", True)), {}))
    assert watched._watch is None and len(api.repairs) == 1 and api.reads == 0
