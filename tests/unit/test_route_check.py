"""The hub notices a proxy that lost its routes (hub_config/hpchub/route_check.py)."""

from __future__ import annotations

from types import SimpleNamespace

from hpchub.route_check import missing_routes


def user(*servers: tuple[str, bool]) -> SimpleNamespace:
    spawners = {spec: SimpleNamespace(ready=ready, proxy_spec=spec) for spec, ready in servers}
    return SimpleNamespace(spawners=spawners)


USERS = {"alice": user(("/user/alice/", True)), "bob": user(("/user/bob/", False)), "carol": user()}


def test_a_full_table_misses_nothing():
    routes = {"/": {}, "/user/alice/": {}}
    assert missing_routes(routes, "/", USERS) == []


def test_a_restarted_proxy_misses_the_hub_and_ready_servers_only():
    assert missing_routes({}, "/", USERS) == ["/", "/user/alice/"]


def test_a_server_still_starting_needs_no_route_yet():
    assert missing_routes({"/": {}}, "/", {"bob": USERS["bob"]}) == []
