"""End-to-end: the hub as users reach it, through the proxy at 127.0.0.1:8000, against what `make up` started."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
HUB = "http://127.0.0.1:8000"
PASSWORDS = ROOT / "inventories/local/secrets/passwords"


def on(host: str, command: str) -> subprocess.CompletedProcess[str]:
    """A command on a cluster host, as root (the operator's view)."""
    return subprocess.run(["docker", "exec", host, "sh", "-c", command], capture_output=True, text=True, check=False)


class HubSession(requests.Session):
    """A browser-like session of one user: cookies, and the hub's XSRF token on every change."""

    def __init__(self, user: str) -> None:
        super().__init__()
        self.user = user

    @property
    def xsrf(self) -> str:
        return self.cookies.get("_xsrf", path="/hub/") or ""

    def api(self, method: str, path: str, **kwargs: object) -> requests.Response:
        headers = {"X-XSRFToken": self.xsrf, "Referer": f"{HUB}/hub/home"}
        return self.request(method, f"{HUB}/hub/api{path}", headers=headers, **kwargs)  # type: ignore[arg-type]

    def login(self) -> requests.Response:
        self.get(f"{HUB}/hub/login")
        password = (PASSWORDS / self.user).read_text().strip()
        return self.post(f"{HUB}/hub/login", data={"username": self.user, "password": password, "_xsrf": self.xsrf})

    def server(self) -> dict:
        return self.api("GET", f"/users/{self.user}").json().get("servers", {}).get("", {})

    def submit_form(self, **fields: str) -> requests.Response:
        return self.post(f"{HUB}/hub/spawn/{self.user}", data={**fields, "_xsrf": self.xsrf})

    def stop(self) -> None:
        self.api("DELETE", f"/users/{self.user}/server")
        wait_for(f"{self.user}'s server stopped", lambda: not self.server(), 60)


def slurm_jobs(user: str) -> list[str]:
    out = on("slurmctld", f"squeue --noheader --user={user} --format=%i").stdout
    return out.split()


def accounted_jobs(user: str) -> int:
    out = on("slurmctld", f"sacct --noheader --allusers --user={user} -X --starttime=now-1days --format=jobid").stdout
    return len(out.split())


@pytest.fixture(scope="session", autouse=True)
def hub_is_up() -> None:
    try:
        requests.get(f"{HUB}/hub/health", timeout=5).raise_for_status()
    except requests.RequestException as error:
        pytest.fail(f"no hub at {HUB} ({error}): run `make up`")


@pytest.fixture
def session_of() -> Iterator:
    made: list[HubSession] = []

    def login(user: str) -> HubSession:
        session = HubSession(user)
        assert session.login().status_code == 200
        made.append(session)
        return session

    yield login
    for session in made:
        if session.server():
            session.stop()


def wait_ready(session: HubSession, deadline_s: float = 90) -> float:
    started = time.monotonic()
    wait_for(f"{session.user}'s server ready", lambda: bool(session.server().get("ready")), deadline_s, 0.2)
    return time.monotonic() - started
