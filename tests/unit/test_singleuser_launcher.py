"""hpchub-singleuser, the server launcher of every job: reports the port to a real HTTP server standing in
for the hub's batchspawner API, then execs the command on that port; a refused report starts nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

LAUNCHER = Path(__file__).resolve().parents[2] / "images/notebook/hpchub-singleuser"


class FakeHubApi(BaseHTTPRequestHandler):
    status = 201
    received: ClassVar[list[tuple[str, str, dict]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.received.append((self.path, self.headers["Authorization"], body))
        self.send_response(self.status)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hub_api() -> Iterator[HTTPServer]:
    FakeHubApi.received = []
    server = HTTPServer(("127.0.0.1", 0), FakeHubApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()


def launch(hub_api: HTTPServer, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    server = tmp_path / "fake-server"
    server.write_text('#!/bin/sh\necho "args=$* url=$JUPYTERHUB_SERVICE_URL cwd=$(pwd)"\n')
    server.chmod(0o755)
    env = {
        **os.environ,
        "HOME": str(tmp_path),
        "JUPYTERHUB_API_URL": f"http://127.0.0.1:{hub_api.server_address[1]}/hub/api",
        "JUPYTERHUB_API_TOKEN": "secret-token",
        "JUPYTERHUB_SERVICE_URL": "http://0.0.0.0:0/user/alice/",
    }
    argv = [sys.executable, str(LAUNCHER), str(server), "--debug"]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30, check=False)


def test_reports_the_port_then_execs_the_server_on_it(hub_api, tmp_path):
    done = launch(hub_api, tmp_path)
    assert done.returncode == 0, done.stderr
    [(path, auth, body)] = FakeHubApi.received
    assert path == "/hub/api/batchspawner" and auth == "token secret-token"
    assert set(body) == {"port"} and 1024 <= body["port"] <= 65535
    assert done.stdout.strip() == f"args=--debug url=http://0.0.0.0:{body['port']}/user/alice/ cwd={tmp_path}"


def test_a_refused_report_starts_nothing(hub_api, tmp_path):
    FakeHubApi.status = 403
    try:
        done = launch(hub_api, tmp_path)
    finally:
        FakeHubApi.status = 201
    assert done.returncode != 0 and "refused the port report: 403" in done.stderr
    assert "args=" not in done.stdout
