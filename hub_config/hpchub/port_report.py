"""The hub's end of batchspawner-singleuser: the user's server reports the port it listens on.

Replaces batchspawner's handler, which sets any attribute a user's token names on the spawner
(the batch submit command among them). Here only an integer `port` is accepted; anything else is
refused with 400 and logged.
"""

from __future__ import annotations

import json
from typing import Any

from jupyterhub.apihandlers import APIHandler, default_handlers
from tornado import web

ROUTE = r"/api/batchspawner"


def parse_port_report(body: Any) -> int:
    """{'port': N} with 1024 <= N <= 65535 -> N; anything else raises ValueError naming the problem."""
    if not isinstance(body, dict) or set(body) != {"port"}:
        keys = sorted(map(str, body)) if isinstance(body, dict) else type(body).__name__
        raise ValueError(f"only {{'port': N}} is accepted, got {keys}")
    port = body["port"]
    if isinstance(port, bool) or not isinstance(port, int) or not 1024 <= port <= 65535:
        raise ValueError(f"port must be an integer from 1024 to 65535, got {port!r:.40}")
    return port


class PortReportHandler(APIHandler):
    @web.authenticated
    def post(self) -> None:
        user = self.current_user
        token = self.get_auth_token()
        spawner = next((s for s in user.spawners.values() if s.api_token == token), None)
        if spawner is None:
            raise web.HTTPError(403, "not the token of a server of yours")
        try:
            port = parse_port_report(self.get_json_body())
        except ValueError as refused:
            self.log.warning("Refused port report for %s: %s", spawner._log_name, refused)
            raise web.HTTPError(400, str(refused)) from None
        report = getattr(spawner, "report_port", None)  # HpcSlurmSpawner's: wakes the start awaiting it
        if report is not None:
            report(port)
        else:  # another spawner class (JupyterHub's MockSpawner in the tests): batchspawner's way
            spawner.port = port
        self.set_status(201)
        self.finish(json.dumps({"message": "port recorded"}))


def install() -> None:
    """Route /hub/api/batchspawner to this handler, never to batchspawner's own."""
    default_handlers[:] = [entry for entry in default_handlers if entry[0] != ROUTE]
    default_handlers.append((ROUTE, PortReportHandler))
