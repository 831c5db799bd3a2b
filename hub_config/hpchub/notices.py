"""Service notices: announcements on every hub page and in JupyterLab, and maintenance mode.

Where they come from, read again whenever a file changes (its mtime), so none needs a hub restart:
- the deploy's notices folder (hub.yaml `notices_dir`), which the jupyterhub role writes from the inventory
  (`make maintenance` too): `announcement.txt` (jupyterhub_announcement) and `maintenance.json`
  (jupyterhub_maintenance: {message, until}; the file is there only while maintenance is on);
- the announcement an admin posts on /hub/hpchub/announce (kept in the hub's state folder, `posted.json`).

During maintenance, logins and new servers are refused with the operator's message and time, admins' apart (they
check the service before opening it); running servers keep running. While the hub itself is down, the proxy shows
the same message (its error page, written by the role beside these files).

Handlers: GET /hub/api/hpchub/notices (JSON for anyone, as the login page shows them: JupyterLab's extension
asks it through its server); GET/POST /hub/hpchub/announce (the admins' form). Messages are plain text.
"""

from __future__ import annotations

import html
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jupyterhub.apihandlers.base import APIHandler
from jupyterhub.handlers.base import BaseHandler
from jupyterhub.scopes import needs_scope
from tornado import web

MAX_MESSAGE = 2000  # characters of an announcement


@dataclass
class _Cached:
    """A file's content, read again when its mtime changes (absent: None)."""

    path: Path
    mtime: float | None = None
    value: Any = None

    def read(self, parse: Any) -> Any:
        try:
            mtime = self.path.stat().st_mtime
        except OSError:
            self.mtime, self.value = None, None
            return None
        if mtime != self.mtime:
            try:
                self.value = parse(self.path.read_text())
            except (OSError, ValueError):
                self.value = None
            self.mtime = mtime
        return self.value


@dataclass
class Notices:
    """The service's notices: the deploy's (notices_dir) and the admins' (state_dir/posted.json)."""

    notices_dir: Path
    state_dir: Path
    _files: dict[str, _Cached] = field(default_factory=dict)

    def _file(self, path: Path, parse: Any) -> Any:
        cached = self._files.setdefault(str(path), _Cached(path))
        return cached.read(parse)

    def maintenance(self) -> dict[str, str] | None:
        """{"message", "until"} while maintenance is on, else None."""
        value = self._file(self.notices_dir / "maintenance.json", json.loads)
        if not isinstance(value, dict) or not value.get("message"):
            return None
        return {"message": str(value["message"]), "until": str(value.get("until") or "")}

    def maintenance_text(self) -> str:
        on = self.maintenance()
        if on is None:
            return ""
        until = f" (until {on['until']})" if on["until"] else ""
        return f"Maintenance{until}: {on['message']}"

    def announcements(self) -> list[dict[str, str]]:
        """The deploy's announcement, then the one an admin posted: [{"message", "by", "at"}]."""
        found = []
        deployed = self._file(self.notices_dir / "announcement.txt", str.strip)
        if deployed:
            found.append({"message": deployed, "by": "deploy", "at": ""})
        posted = self._file(self.state_dir / "posted.json", json.loads)
        if isinstance(posted, dict) and posted.get("message"):
            found.append({"message": str(posted["message"]), "by": str(posted.get("by", "")),
                          "at": str(posted.get("at", ""))})  # fmt: skip
        return found

    def post(self, message: str, by: str) -> None:
        """The admins' announcement (empty: none), written whole (a reader never sees half of it)."""
        message = message.strip()[:MAX_MESSAGE]
        target = self.state_dir / "posted.json"
        if not message:
            target.unlink(missing_ok=True)
            return
        at = time.strftime("%Y-%m-%d %H:%M %Z")
        partial = target.with_suffix(".tmp")
        partial.write_text(json.dumps({"message": message, "by": by, "at": at}))
        partial.replace(target)

    def as_json(self) -> dict[str, Any]:
        return {"maintenance": self.maintenance(), "announcements": self.announcements()}

    def page_announcement(self, _user: Any = None) -> str:
        """What every hub page shows (JupyterHub's template variable `announcement`): escaped HTML."""
        lines = [self.maintenance_text()] + [note["message"] for note in self.announcements()]
        return "<br>".join(html.escape(line) for line in lines if line)

    def refuse_during_maintenance(self, user: Any, what: str) -> None:
        """HTTP 503 with the operator's message for a non-admin's login or new server while maintenance is on."""
        if self.maintenance() is not None and not getattr(user, "admin", False):
            raise web.HTTPError(503, f"{what} during maintenance. {self.maintenance_text()}")


NOTICES: Notices | None = None  # set by install(); the handlers and the spawner's check read it


def install(notices_dir: str, state_dir: str = ".") -> Notices:
    global NOTICES
    NOTICES = Notices(Path(notices_dir), Path(state_dir))
    return NOTICES


def current() -> Notices:
    if NOTICES is None:
        raise RuntimeError("hpchub.notices.install() was not called (jupyterhub_config.py)")
    return NOTICES


def refuse_during_maintenance(user: Any, what: str) -> None:
    """Notices.refuse_during_maintenance where the hub installed notices (a hub without them refuses nothing)."""
    if NOTICES is not None:
        NOTICES.refuse_during_maintenance(user, what)


async def refuse_logins_during_maintenance(_authenticator: Any, handler: Any, authentication: Any) -> Any:
    """Authenticator.post_auth_hook: a non-admin's login is refused (503, the operator's message) in maintenance."""
    if authentication:
        refuse_during_maintenance(handler.find_user(authentication["name"]), "Logins are closed")
    return authentication


class NoticesAPIHandler(APIHandler):  # type: ignore[misc]
    """GET /hub/api/hpchub/notices: the maintenance notice and announcements, for anyone (the login page shows
    them too)."""

    def get(self) -> None:
        self.finish(current().as_json())


class AnnounceHandler(BaseHandler):  # type: ignore[misc]
    """/hub/hpchub/announce: an admin posts (or clears) the announcement every hub page and JupyterLab show."""

    @web.authenticated
    @needs_scope("admin-ui")  # type: ignore[untyped-decorator]
    async def get(self) -> None:
        posted = [note for note in current().announcements() if note["by"] != "deploy"]
        self.finish(await self.render_template("announce.html", posted=posted[0] if posted else None))

    @web.authenticated
    @needs_scope("admin-ui")  # type: ignore[untyped-decorator]
    async def post(self) -> None:
        message = self.get_body_argument("message", "")
        current().post(message, self.current_user.name)
        self.log.info("Announcement %s by %s", "posted" if message.strip() else "cleared", self.current_user.name)
        self.redirect(self.hub.base_url + "hpchub/announce")


HANDLERS = [(r"/api/hpchub/notices", NoticesAPIHandler), (r"/hpchub/announce", AnnounceHandler)]
