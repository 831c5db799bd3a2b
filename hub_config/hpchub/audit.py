"""The audit trail: one JSON line per event on the hub host (hub.yaml `audit.path`), rotated by size.

Events and where they come from:
- `login` / `login_failed` (user tried, source address): the hub's POST /hub/login, read from its answer;
- `spawn_request`, `stop_request` (the actor: the user, an admin, a service such as the idle culler), `token_created`,
  `share_granted`, `share_revoked`, `share_code_created`: the hub's REST API, read from each answered request
  (`log_request`, JupyterHub's own request log with this after it: tornado's log_function);
- `server_started` (place, partition, job id, node) and `server_ended` (Slurm ended the job: its time limit, a node
  lost, scancel by hand): the spawner (hpchub.spawner);
- `admin_granted` / `admin_revoked` by the deploy (jupyterhub_admin_users): at the hub's start, against the list
  the trail last recorded (`admins.json` beside it).

Nothing secret is written: no password, token, cookie or query string; the request's path without its query and the
login's user name only. `docs/operations.md` says where the trail is and how to search it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import logging.handlers
import re
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from jupyterhub.log import log_request as upstream_log_request

LOGGER = logging.getLogger("hpchub.audit")
_USER_API = r"/hub/api/users/(?P<user>[^/]+)"
_SERVER = rf"^{_USER_API}/servers?(?:/(?P<server>[^/]*))?/?$"
_SHARES = r"^/hub/api/shares/(?P<user>[^/]+)/(?P<server>[^/]*)/?$"
_SHARE_CODES = r"^/hub/api/share-codes/(?P<user>[^/]+)/(?P<server>[^/]*)/?$"
# (method, path relative to the hub's base URL, event, statuses that mean it happened)
_API_EVENTS: list[tuple[str, re.Pattern[str], str, frozenset[int]]] = [
    ("POST", re.compile(_SERVER), "spawn_request", frozenset({201, 202})),
    ("DELETE", re.compile(_SERVER), "stop_request", frozenset({202, 204})),
    ("POST", re.compile(rf"^{_USER_API}/tokens/?$"), "token_created", frozenset({200, 201})),
    ("POST", re.compile(_SHARES), "share_granted", frozenset({200})),
    ("PATCH", re.compile(_SHARES), "share_revoked", frozenset({200})),
    ("DELETE", re.compile(_SHARES), "share_revoked", frozenset({204})),
    ("POST", re.compile(_SHARE_CODES), "share_code_created", frozenset({200, 201})),
]


PRIVATE = 0o640  # the trail's files: the hub's user writes, its group (adm on a hub host) reads, no one else


def _private(path: str | Path) -> None:
    with contextlib.suppress(OSError):  # another owner's file: the hub cannot open it either, and says so
        Path(path).chmod(PRIVATE)


class _PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """RotatingFileHandler whose every file (the first, and each after a rollover) is PRIVATE."""

    def _open(self) -> Any:
        stream = super()._open()
        _private(self.baseFilename)
        return stream


class _JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(record.msg, sort_keys=False, default=str)  # record.msg is the event's dict


def install(path: str, max_bytes: int = 50 * 2**20, files: int = 10) -> None:
    """Write the trail to `path` (its folder made), rotated at `max_bytes`, `files` old ones kept."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    handler = _PrivateRotatingFileHandler(path, maxBytes=max_bytes, backupCount=files, encoding="utf-8")
    handler.setFormatter(_JsonLines())
    for old in list(LOGGER.handlers):
        LOGGER.removeHandler(old)
        old.close()
    LOGGER.addHandler(handler)
    LOGGER.setLevel(logging.INFO)
    LOGGER.propagate = False


def event(name: str, **fields: Any) -> None:
    """One line: {"time", "event", **fields} (fields that are None left out)."""
    if not LOGGER.handlers:
        return
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    LOGGER.info({"time": stamp, "event": name, **{key: value for key, value in fields.items() if value is not None}})


def _actor(handler: Any) -> tuple[str | None, str | None]:
    """Who made the request: (name, kind) with kind user, admin or service; (None, None) for nobody known."""
    current = getattr(handler, "_jupyterhub_user", None)
    if current is None:
        return None, None
    kind = getattr(current, "kind", "user")
    if kind == "service":
        return current.name, "service"
    return current.name, "admin" if getattr(current, "admin", False) else "user"


def record_request(handler: Any) -> None:
    """The audit events of one answered request (logins and the REST API's actions); others write nothing."""
    request = handler.request
    status = handler.get_status()
    base = handler.settings.get("base_url", "/").rstrip("/")
    path = request.path[len(base) :] if base and request.path.startswith(base) else request.path
    address = request.remote_ip
    if request.method == "POST" and path.rstrip("/") == "/hub/login":
        tried = _body_argument(handler, "username")
        if status in (302, 303):
            event("login", user=_actor(handler)[0] or tried, address=address)
        elif status != 405:
            event("login_failed", user=tried, address=address, status=status)
        return
    for method, pattern, name, succeeded in _API_EVENTS:
        match = pattern.match(path) if method == request.method else None
        if match is None:
            continue
        if status in succeeded:
            actor, kind = _actor(handler)
            found = match.groupdict()
            event(name, actor=actor, actor_kind=kind, user=found.get("user"), server=found.get("server") or None,
                  address=address)  # fmt: skip
        return


def _body_argument(handler: Any, name: str) -> str | None:
    try:
        value = handler.get_body_argument(name, None)
    except Exception:
        return None
    return value[:64] if isinstance(value, str) else None


def log_request(handler: Any) -> None:
    """tornado's log_function: JupyterHub's request log, then the audit trail's events of the request."""
    upstream_log_request(handler)
    try:
        record_request(handler)
    except Exception:  # the trail must never fail a request
        logging.getLogger("JupyterHub").exception("audit: request not recorded")


def record_admins(admins: Iterable[str], state: Path, by: str = "deploy") -> None:
    """admin_granted / admin_revoked for the difference between `admins` and the list `state` last held."""
    now = sorted(set(admins))
    try:
        before = set(json.loads(state.read_text()))
    except (OSError, ValueError):
        before = None
    if before is not None:
        for name in sorted(set(now) - before):
            event("admin_granted", user=name, actor=by, actor_kind="deploy")
        for name in sorted(before - set(now)):
            event("admin_revoked", user=name, actor=by, actor_kind="deploy")
    else:
        for name in now:
            event("admin_granted", user=name, actor=by, actor_kind="deploy")
    state.parent.mkdir(parents=True, exist_ok=True)
    state.write_text(json.dumps(now))
    _private(state)


def tornado_settings(previous: dict[str, Any] | None = None) -> dict[str, Any]:
    """JupyterHub.tornado_settings with our log_function (the site's other settings kept)."""
    return {**(previous or {}), "log_function": log_request}
