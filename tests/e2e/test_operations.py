"""Operating the service as its operators and users meet it: the hub's metrics move with a spawn and are an
admin's (or Prometheus's token's) only, an admin's announcement reaches users on the hub and in JupyterLab,
maintenance refuses logins and new servers but keeps running ones, and the audit trail names who did what and
holds no secret. In order: each test leaves what the next one reads (alice's server, the trail's events)."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator

import pytest
from selenium.webdriver.support.ui import WebDriverWait

from tests.support.browser import TOASTS, log_in, screenshot, wait_for_lab
from tests.support.cluster import make
from tests.support.docker import on
from tests.support.hubclient import SECRETS, HubSession, json_of, public_get
from tests.support.monitoring import query, samples, total
from tests.support.waiting import wait_for

AUDIT = SECRETS / "audit/audit.jsonl"  # jupyterhub_audit_dir in the local inventory
METRICS_TOKEN = SECRETS / "metrics-token"
OPTIONS = {"partition": "interactive", "cpus": 1, "time": 30}


def hub_metric(name: str, **labels: str) -> float:
    """A metric of the hub's /metrics, read as Prometheus does (its token, through the proxy)."""
    token = METRICS_TOKEN.read_text().strip()
    return total(samples(public_get("/hub/metrics", headers={"Authorization": f"token {token}"}).text), name, **labels)


def trail() -> list[dict]:
    return [json.loads(line) for line in AUDIT.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def alice(session_of_module) -> Iterator[HubSession]:
    """alice, with no named server `extra` before or after the module (the tests start one)."""
    session = session_of_module("alice")
    stop_extra(session)
    yield session
    stop_extra(session)


def stop_extra(session: HubSession) -> None:
    if "extra" in json_of(session.api("GET", "/users/alice")).get("servers", {}):
        session.api("DELETE", "/users/alice/servers/extra")
        session.wait("her named server stopped", lambda: "extra" not in json_of(session.api(
            "GET", "/users/alice")).get("servers", {}), 60, 0.5)  # fmt: skip


@pytest.fixture(scope="module")
def erin(session_of_module) -> HubSession:
    return session_of_module("erin")  # an admin (jupyterhub_admin_users in the local inventory)


def test_metrics_are_for_admins_and_prometheus_only(alice, erin):
    assert alice.get(f"{alice.hub}/hub/metrics").status_code == 403
    assert public_get("/hub/metrics").status_code == 403
    assert erin.get(f"{erin.hub}/hub/metrics").status_code == 200
    # Read against the hub's own list, whatever ran before (JupyterHub's gauge misses users made by some paths).
    users = erin.api("GET", "/users", params={"limit": 1000}).json()
    assert 2 <= hub_metric("jupyterhub_total_users") <= len(users)
    assert alice.get(f"{alice.hub}/hub/hpchub/announce").status_code == 403


def test_a_spawn_moves_the_spawn_histogram_and_the_running_servers(alice):
    spawns, running = hub_metric("jupyterhub_server_spawn_duration_seconds_count", status="success"), hub_metric(
        "jupyterhub_running_servers")  # fmt: skip
    assert alice.api("POST", "/users/alice/server", json={"user_options": OPTIONS}).status_code in (201, 202)
    alice.wait_ready(120)
    assert hub_metric("jupyterhub_server_spawn_duration_seconds_count", status="success") == spawns + 1
    assert hub_metric("jupyterhub_running_servers") == running + 1
    # Prometheus sees the same a scrape later, and the Slurm exporter sees the server's job.
    wait_for(
        "Prometheus has alice's server",
        lambda: query('sum(jupyterhub_running_servers) >= 1 and sum(slurm_jobs{kind="server",state="RUNNING"}) >= 1'),
        30,
        1,
    )


def test_the_dashboard_draws_for_an_admin_in_a_browser_and_is_refused_to_users(alice, browser):
    assert alice.get(f"{alice.hub}/hub/hpchub/dashboard").status_code == 403
    log_in(browser, "erin")
    WebDriverWait(browser, 30, poll_frequency=0.2).until(lambda page: "/hub/login" not in page.current_url)
    browser.get(f"{alice.hub}/hub/hpchub/dashboard?hours=1")
    WebDriverWait(browser, 30, poll_frequency=0.5).until(
        lambda page: len(page.find_elements("css selector", "#hpc-dashboard svg.hpc-chart")) == 10
    )
    drawn = browser.find_element("css selector", "#hpc-dashboard").text
    assert "Prometheus did not answer" not in drawn
    assert "Running servers by place" in drawn and "interactive:" in drawn  # alice's server, from the exporter
    lines = browser.find_elements("css selector", "#hpc-dashboard polyline")
    assert len(lines) >= 5
    browser.set_window_size(1280, 1800)
    screenshot(browser, "dashboard.png")


def test_an_announcement_by_an_admin_reaches_users_on_the_hub_and_in_jupyterlab(alice, erin, browser):
    text = f"Scratch purge on Friday <{secrets.token_hex(3)}>"
    assert alice.post(f"{alice.hub}/hub/hpchub/announce", data={"message": "x", "_xsrf": alice.xsrf}).status_code == 403
    posted = erin.post(f"{erin.hub}/hub/hpchub/announce", data={"message": text, "_xsrf": erin.xsrf})
    assert posted.status_code == 200 and "Posted by erin" in posted.text
    escaped = text.replace("<", "&lt;").replace(">", "&gt;")
    assert escaped in alice.get(f"{alice.hub}/hub/home").text
    assert escaped in public_get("/hub/login").text  # before anyone logs in
    assert json_of(alice.api("GET", "/hpchub/notices"))["announcements"][-1]["message"] == text
    log_in(browser, "alice")
    browser.get(f"{alice.hub}/user/alice/lab")
    wait_for_lab(browser)
    WebDriverWait(browser, 30, poll_frequency=0.5).until(
        lambda page: any(f"Announcement: {text}" in toast for toast in page.execute_script(TOASTS))
    )
    erin.post(f"{erin.hub}/hub/hpchub/announce", data={"message": "", "_xsrf": erin.xsrf})
    assert escaped not in alice.get(f"{alice.hub}/hub/home").text


def test_maintenance_refuses_logins_and_new_servers_but_keeps_running_ones(alice):
    message = f"Upgrading Slurm {secrets.token_hex(3)}"
    make("maintenance", f"MESSAGE={message}", "UNTIL=15:00 CET")
    try:
        dave = HubSession("dave")
        refused = dave.login()
        assert refused.status_code == 503 and message in refused.text
        assert f"Maintenance (until 15:00 CET): {message}" in public_get("/hub/login").text
        assert alice.server_get("api/status").status_code == 200  # her running server
        named = alice.api("POST", "/users/alice/servers/extra", json={"user_options": OPTIONS})
        assert named.status_code == 503 and message in named.json()["message"]
        assert HubSession("erin").logs_in()  # an admin, to check the service before opening it
    finally:
        make("maintenance")
    assert HubSession("dave").logs_in()


CULLER_TOKEN = """
import os
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        argv = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\\0")
    except OSError:
        continue
    if argv[1:3] == [b"-m", b"jupyterhub_idle_culler"]:
        for item in open(f"/proc/{pid}/environ", "rb").read().split(b"\\0"):
            if item.startswith(b"JUPYTERHUB_API_TOKEN="):
                print(item.split(b"=", 1)[1].decode())
"""


def culler_token() -> str:
    """The idle culler's own token (the hub gives it to the service it runs), read from its process."""
    found = on("jupyterhub", "python3 -", user="jupyterhub", stdin=CULLER_TOKEN)  # the hub's user: its process
    assert found.stdout.strip(), f"no idle culler in the hub's container: {found.stderr}"
    return found.stdout.strip()


def test_the_audit_trail_names_each_actor_and_holds_no_secret(alice, erin):
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 1))
    assert not HubSession("dave", password="not-his-password").logs_in()
    token = alice.token()
    # erin (an admin) stops alice's server; the idle culler's token stops her named one.
    assert erin.api("DELETE", "/users/alice/server").status_code in (202, 204)
    alice.wait("her server stopped", lambda: not alice.server(), 60, 0.5)
    assert alice.api("POST", "/users/alice/servers/extra", json={"user_options": OPTIONS}).status_code in (201, 202)
    named = f"{alice.hub}/hub/api/users/alice/servers/extra"

    def named_ready() -> bool:
        return bool(json_of(alice.api("GET", "/users/alice")).get("servers", {}).get("extra", {}).get("ready"))

    alice.wait("her named server ready", named_ready, 120, 0.5)
    culled = alice.delete(named, headers={"Authorization": f"token {culler_token()}"}, verify=alice.verify)
    assert culled.status_code in (202, 204), culled.text[:300]
    stop_extra(alice)

    events = trail()
    recent = [event for event in events if event["time"] >= started]

    def one(**fields: str) -> dict:
        found = [event for event in recent if fields.items() <= event.items()]
        assert found, f"no audit event {fields} in {recent[-12:]}"
        return found[-1]

    one(event="login_failed", user="dave")
    one(event="token_created", actor="alice", user="alice")
    one(event="stop_request", actor="erin", actor_kind="admin", user="alice")
    one(event="spawn_request", actor="alice", actor_kind="user", user="alice", server="extra")
    started_event = one(event="server_started", user="alice", server="extra")
    assert started_event["job_id"].isdigit() and started_event["node"] and started_event["place"] == "interactive"
    one(event="stop_request", actor="idle-culler", actor_kind="service", user="alice", server="extra")
    assert any(e["event"] == "login" and e["user"] == "alice" and e.get("address") for e in events)
    assert any(e["event"] == "admin_granted" and e["user"] == "erin" for e in events)
    # Nothing secret: the run's passwords, the hub's secrets and the token just made appear nowhere.
    text = AUDIT.read_text()
    for path in [*(SECRETS / "passwords").iterdir(), *(SECRETS / name for name in (
            "proxy-token", "cookie-secret", "crypt-key", "service-token", "metrics-token"))]:  # fmt: skip
        assert path.read_text().strip() not in text, path.name
    assert token not in text and "not-his-password" not in text
