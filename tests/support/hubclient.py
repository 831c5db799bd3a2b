"""A user of the hub as a browser sees it, through the proxy: login form, cookies, XSRF, REST, a kernel
over websocket. Shared by the end-to-end tests and `make bench`."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
import websocket

from tests.support.docker import ROOT
from tests.support.waiting import wait_for

HUB = "https://127.0.0.1:8443"
HTTP_PORT = "http://127.0.0.1:8000"  # plain HTTP: redirects to HUB
SECRETS = ROOT / "inventories/local/secrets"
PASSWORDS = SECRETS / "passwords"
SERVICE_TOKEN = SECRETS / "service-token"
CERTIFICATE = SECRETS / "tls/proxy.crt"  # the local cluster's self-signed certificate: the only one trusted here


def json_of(reply: requests.Response) -> Any:
    """The reply's JSON; one that failed, or is not JSON, raises with its status and the start of its body."""
    what = f"{reply.request.method} {reply.url}: {reply.status_code}"
    if not reply.ok:
        raise RuntimeError(f"{what} {reply.text[:160]!r}")
    try:
        return reply.json()
    except ValueError:
        raise RuntimeError(f"{what}, not JSON: {reply.text[:160]!r}") from None


class KernelDied(RuntimeError):
    """The kernel died while a cell ran (the server sent status dead); the message is what the cell printed."""


class Kernel:
    """One kernel's channels (a websocket through the proxy): run cells, get what they printed."""

    def __init__(
        self, ws: websocket.WebSocket, user: str, kernel_id: str = "", api: str = "", auth: dict[str, str] | None = None
    ) -> None:
        self.ws = ws
        self.user = user
        self.session = uuid.uuid4().hex
        self.id, self.api, self.auth = kernel_id, api, auth or {}  # the server's REST API (interrupt, restart)
        self.connect: Any = None  # opens a new websocket to the kernel's channels (HubSession.kernel sets it)

    def reconnect(self) -> None:
        """A new websocket to the kernel, as JupyterLab opens after a restart (the kernel's ports may change)."""
        self.ws.close()
        self.ws = self.connect()

    def run(self, code: str, store_history: bool = False) -> str:
        """Run one cell; what it printed (stdout and stderr streams), or an AssertionError with its traceback.
        `store_history`: as a notebook runs cells (`_`, `Out` and the execution count follow)."""
        return self.outcome(self.send(code, store_history))

    def started(self, code: str) -> str:
        """Send a cell and return (its message id) once it has printed something: it runs. For cells that print
        first and then take long (to interrupt or cancel under them)."""
        msg_id = self.send(code)
        while True:
            message = json.loads(self.ws.recv())
            if message.get("parent_header", {}).get("msg_id") == msg_id and message["header"]["msg_type"] == "stream":
                return msg_id

    def send(self, code: str, store_history: bool = False) -> str:
        """Send one cell without waiting for it; its message id, for outcome()."""
        msg_id = uuid.uuid4().hex
        self.ws.send(json.dumps({
            "header": {"msg_id": msg_id, "username": self.user, "session": self.session,
                       "msg_type": "execute_request", "version": "5.3"},
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
            "content": {"code": code, "silent": False, "store_history": store_history, "user_expressions": {},
                        "allow_stdin": False, "stop_on_error": True},
        }))  # fmt: skip
        return msg_id

    def outcome(self, msg_id: str) -> str:
        """What the cell `msg_id` printed once it is done (its execute_reply and its idle status both in: ipykernel
        7 sends them in either order, and after an interrupt its output may follow the idle); AssertionError with
        its traceback if it failed. A kernel that dies meanwhile (status dead) raises KernelDied with what the cell
        printed."""
        printed: list[str] = []
        replied = idle = False
        while not (replied and idle):
            message = json.loads(self.ws.recv())
            if message["header"].get("msg_type") == "status" and message["content"].get("execution_state") == "dead":
                raise KernelDied("".join(printed))
            if message.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind = message["header"]["msg_type"]
            if kind == "stream":
                printed.append(message["content"]["text"])
            elif kind == "error":
                raise AssertionError("\n".join(message["content"]["traceback"]))
            elif kind == "execute_reply":
                replied = True
            elif kind == "status" and message["content"]["execution_state"] == "idle":
                idle = True
        return "".join(printed)


class HubSession(requests.Session):
    """A browser-like session of one user: cookies, and the hub's XSRF token on every change."""

    def __init__(self, user: str, hub: str = HUB, secrets: Path = SECRETS, password: str | None = None) -> None:
        """`secrets`: the inventory's secrets folder (users' passwords, the proxy's certificate); `password`: the
        user's, where it is not in that folder."""
        super().__init__()
        self.user = user
        self.password = password
        self.hub = hub
        self.passwords = secrets / "passwords"
        self.verify = str(secrets / "tls/proxy.crt")
        self.trust_env = False  # REQUESTS_CA_BUNDLE would override `verify`; and no proxy for 127.0.0.1

    @property
    def xsrf(self) -> str:
        return self.cookies.get("_xsrf", path="/hub/") or ""

    def api(self, method: str, path: str, headers: dict[str, str] | None = None, **kwargs: Any) -> requests.Response:
        headers = {"X-XSRFToken": self.xsrf, "Referer": f"{self.hub}/hub/home", **(headers or {})}
        return self.request(method, f"{self.hub}/hub/api{path}", headers=headers, **kwargs)

    def login(self, code: str | None = None) -> requests.Response:
        """The login form sent, with the one-time `code` where the hub asks for one (MFA)."""
        self.get(f"{self.hub}/hub/login")
        password = self.password or (self.passwords / self.user).read_text().strip()
        form = {"username": self.user, "password": password, "_xsrf": self.xsrf}
        if code is not None:
            form["otp"] = code
        return self.post(f"{self.hub}/hub/login", data=form)

    def logs_in(self, code: str | None = None) -> bool:
        """Whether the hub accepts the login (a refusal renders the login form again, 403)."""
        reply = self.login(code)
        return reply.status_code == 200 and "/hub/login" not in reply.url

    def server(self) -> dict[str, Any]:
        server: dict[str, Any] = json_of(self.api("GET", f"/users/{self.user}")).get("servers", {}).get("", {})
        return server

    def submit_form(self, **fields: str) -> requests.Response:
        return self.post(f"{self.hub}/hub/spawn/{self.user}", data={**fields, "_xsrf": self.xsrf})

    def wait(self, what: str, done: Any, deadline_s: float, interval_s: float = 0.1) -> float:
        return wait_for(f"{self.user}: {what}", done, deadline_s, interval_s)

    def wait_ready(self, deadline_s: float) -> dict[str, Any]:
        """Follow the spawn's progress event stream, as the hub's spawn page does, until the server is ready.

        One long request instead of a poll of the user's model every few hundred ms: with tens of users
        spawning, polling clients cost the hub as much CPU as the spawns themselves.
        """
        ends = time.monotonic() + deadline_s
        progress = f"/users/{self.user}/server/progress"
        headers = {"Accept": "text/event-stream"}
        with self.api("GET", progress, headers=headers, stream=True, timeout=(10, deadline_s)) as reply:
            reply.raise_for_status()
            for line in reply.iter_lines(decode_unicode=True):
                if line and line.startswith("data:"):
                    event: dict[str, Any] = json.loads(line[5:])
                    if event.get("ready"):
                        return event
                    if event.get("failed"):
                        raise RuntimeError(f"{self.user}: spawn failed: {event.get('message', '')[:500]}")
                if time.monotonic() > ends:
                    break
        raise TimeoutError(f"{self.user}: server not ready within {deadline_s:.0f} s (progress stream ended)")

    def stop(self, deadline_s: float = 60) -> None:
        self.api("DELETE", f"/users/{self.user}/server")
        self.wait(f"{self.user}'s server stopped", lambda: not self.server(), deadline_s, 0.2)

    def token(self, expires_in_s: int = 600) -> str:
        """A new API token of the user's, for their server's REST API and websockets."""
        made = self.api("POST", f"/users/{self.user}/tokens", json={"note": "client", "expires_in": expires_in_s})
        return str(json_of(made)["token"])

    def server_get(self, path: str, **kwargs: Any) -> requests.Response:
        """GET `path` on the user's server (under /user/NAME/) with a token."""
        headers = {"Authorization": f"token {self.token()}"}
        return self.get(f"{self.hub}/user/{self.user}/{path.lstrip('/')}", headers=headers, **kwargs)

    @contextmanager
    def kernel(
        self, timeout_s: float = 60, name: str = "python3", server: str = "", token: str = ""
    ) -> Iterator[Kernel]:
        """A kernel (spec `name`) on the user's server (`server`: a named one), reached through the proxy, for
        several cells; deleted at the end. `token`: an API token of the user's (else a new one)."""
        token = token or self.token()
        auth = {"Authorization": f"token {token}"}
        prefix = f"/user/{self.user}/" + (f"{server}/" if server else "")
        base = f"{self.hub}{prefix}api"
        kernel = json_of(self.post(f"{base}/kernels", headers=auth, json={"name": name}, timeout=timeout_s))
        ws_url = self.hub.replace("http", "ws", 1) + f"{prefix}api/kernels/{kernel['id']}/channels"

        def connect() -> websocket.WebSocket:
            return websocket.create_connection(ws_url, header=[f"Authorization: token {token}"], timeout=timeout_s,
                                               sslopt={"ca_certs": self.verify})  # fmt: skip

        channels = Kernel(connect(), self.user, kernel["id"], base, auth)
        channels.connect = connect
        try:
            yield channels
        finally:
            channels.ws.close()
            self.delete(f"{base}/kernels/{kernel['id']}", headers=auth)

    def run_in_kernel(self, code: str, timeout_s: float = 60, server: str = "") -> str:
        """Start a kernel on the user's server (`server`: a named one) through the proxy, run `code`, return what
        it printed."""
        with self.kernel(timeout_s, server=server) as kernel:
            return kernel.run(code)

    def run_in_terminal(self, command: str, timeout_s: float = 90) -> str:
        """Open a terminal on the user's server through the proxy, type `command`, return what the terminal showed
        until the command ended (a marker echoed after it, with its exit status: `...rc=N`)."""
        token = self.token()
        auth = {"Authorization": f"token {token}"}
        base = f"{self.hub}/user/{self.user}"
        terminal = json_of(self.post(f"{base}/api/terminals", headers=auth))["name"]
        ws_url = self.hub.replace("http", "ws", 1) + f"/user/{self.user}/terminals/websocket/{terminal}"
        ws = websocket.create_connection(ws_url, header=[f"Authorization: token {token}"], timeout=timeout_s,
                                         sslopt={"ca_certs": self.verify})  # fmt: skip
        marker = f"done-{uuid.uuid4().hex[:8]}"
        try:
            ws.send(json.dumps(["stdin", f"{command}; echo {marker[:5]}''{marker[5:]} rc=$?\r"]))
            shown = []
            ends = time.monotonic() + timeout_s
            while time.monotonic() < ends:
                kind, *content = json.loads(ws.recv())
                if kind == "stdout":
                    shown.append(content[0])
                    if re.search(rf"{marker} rc=\d+", "".join(shown)):
                        return "".join(shown)
            raise TimeoutError(f"{self.user}: {command!r} did not end in the terminal within {timeout_s:.0f} s")
        finally:
            ws.close()
            self.delete(f"{base}/api/terminals/{terminal}", headers=auth)


def public_get(path: str, hub: str = HUB, **kwargs: Any) -> requests.Response:
    """GET through the proxy with no session (health checks, a token in the headers)."""
    kwargs.setdefault("timeout", 10)
    return requests.get(f"{hub}{path}", verify=str(CERTIFICATE), **kwargs)


def hub_healthy(hub: str = HUB) -> bool:
    """/hub/health answers 200 through the proxy."""
    try:
        return public_get("/hub/health", hub, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def as_service(method: str, path: str, hub: str = HUB, **kwargs: Any) -> requests.Response:
    """The hub's REST API with the scoped monitoring token (secrets/service-token)."""
    token = SERVICE_TOKEN.read_text().strip()
    headers = {"Authorization": f"token {token}"}
    return requests.request(method, f"{hub}/hub/api{path}", headers=headers, timeout=30, verify=str(CERTIFICATE),
                            **kwargs)  # fmt: skip
