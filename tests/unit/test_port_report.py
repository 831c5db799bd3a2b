"""The port-report API (hub_config/hpchub/port_report.py): only an integer port from the user's server.

`parse_port_report` on its own, then `PortReportHandler` in JupyterHub's own MockHub app (initialized, not
started: no proxy), served on a free port and called over HTTP with the server's token, another token of
the same user, no token, and bad bodies. `install()` replaces batchspawner's handler of the route.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import batchspawner.api
import pytest
from hpchub import port_report
from jupyterhub.apihandlers import default_handlers
from tornado.httpclient import AsyncHTTPClient
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets


def test_a_port_is_accepted():
    assert port_report.parse_port_report({"port": 45678}) == 45678
    assert port_report.parse_port_report({"port": 1024}) == 1024
    assert port_report.parse_port_report({"port": 65535}) == 65535


@pytest.mark.parametrize(
    "body",
    [
        {"port": "45678"},
        {"port": 80},
        {"port": 1023},
        {"port": 65536},
        {"port": True},
        {"port": 45678.0},
        {"port": 45678, "batch_submit_cmd": "bash -c 'id'"},
        {"batch_query_cmd": "true"},
        {"ip": "10.0.0.1"},
        {},
        ["port", 45678],
        None,
    ],
)
def test_anything_else_is_refused(body):
    with pytest.raises(ValueError, match=r"only \{'port': N\}|port must be an integer"):
        port_report.parse_port_report(body)


@pytest.fixture
def handlers() -> Iterator[list[Any]]:
    """JupyterHub's API routes, as they are again after the test (install() changes them in place)."""
    saved = list(default_handlers)
    yield default_handlers
    default_handlers[:] = saved


def test_install_routes_the_api_to_our_handler_instead_of_batchspawners(handlers):
    assert (port_report.ROUTE, batchspawner.api.BatchSpawnerAPIHandler) in handlers  # batchspawner's import added it
    port_report.install()
    port_report.install()
    assert [handler for route, handler, *_ in handlers if route == port_report.ROUTE] == [port_report.PortReportHandler]


@dataclass
class Reply:
    code: int
    message: str | None


async def post(url: str, body: Any, token: str | None) -> Reply:
    headers = {"Authorization": f"token {token}"} if token else {}
    response = await AsyncHTTPClient().fetch(
        url, method="POST", body=json.dumps(body), headers=headers, raise_error=False
    )
    return Reply(response.code, json.loads(response.body or b"{}").get("message"))


@pytest.fixture
def hub_reports(handlers, tmp_path, monkeypatch):
    """`hub_reports(reports)`: MockHub with our handler; each (body, which token) POSTed to it in order.

    The token is the user's server's ("server"), another token of the user ("other"), or None. Returns the
    replies and the port on the server's spawner after them.
    """
    from jupyterhub.tests.mocking import MockHub

    monkeypatch.chdir(tmp_path)  # the hub's cookie secret file
    port_report.install()

    def run(reports: list[tuple[Any, str | None]]) -> tuple[list[Reply], int]:
        async def scenario():
            app = MockHub.instance()  # the instance: alembic then logs through the app, not fileConfig
            try:
                await app.initialize([])
                user = app.users["user"]
                spawner = user.spawners[""]
                tokens = {"server": user.new_api_token(), "other": user.new_api_token(), None: None}
                spawner.api_token = tokens["server"]
                sockets = bind_sockets(0, "127.0.0.1")
                server = HTTPServer(app.tornado_application)
                server.add_sockets(sockets)
                url = f"http://127.0.0.1:{sockets[0].getsockname()[1]}{app.hub.base_url}api/batchspawner"
                try:
                    replies = [await post(url, body, tokens[which]) for body, which in reports]
                finally:
                    server.stop()
                return replies, spawner.port
            finally:
                app.db_file.close()
                Path(app.pid_file).unlink(missing_ok=True)
                MockHub.clear_instance()

        return asyncio.run(scenario())

    return run


def test_the_servers_token_records_its_port(hub_reports):
    replies, port = hub_reports([({"port": 45678}, "server")])
    assert replies == [Reply(201, "port recorded")] and port == 45678


def test_refused_reports_change_nothing(hub_reports):
    replies, port = hub_reports(
        [
            ({"port": 45678}, "other"),  # a token of the user, but no server's
            ({"port": 45678}, None),
            ({"port": 45678, "batch_submit_cmd": "id"}, "server"),
            ({"port": 80}, "server"),
        ]
    )
    assert [reply.code for reply in replies] == [403, 403, 400, 400]
    assert replies[0].message == "not the token of a server of yours"
    assert replies[2].message == "only {'port': N} is accepted, got ['batch_submit_cmd', 'port']"
    assert replies[3].message == "port must be an integer from 1024 to 65535, got 80"
    assert port == 0
