"""Several servers of one user at once (JupyterHub's named servers, jupyterhub_named_servers), each its own Slurm
job named after it, listed on the hub's home page; stopping one ends its job and leaves the other."""

from __future__ import annotations

import re
from typing import Any

from selenium.webdriver.support.ui import WebDriverWait

from tests.support.browser import log_in, screenshot
from tests.support.docker import on
from tests.support.hubclient import HUB
from tests.support.waiting import wait_for

NAMES = ("short", "long")
OPTIONS = {"short": {"partition": "debug", "time": 20}, "long": {"partition": "interactive", "time": 120}}


def erins_jobs(fields: str = "%T %P") -> dict[str, str]:
    """erin's Slurm jobs: name -> squeue's `fields` ('state partition')."""
    out = on("slurmctld", f"squeue --noheader --user=erin --format='%j {fields}'").stdout
    return dict(line.split(" ", 1) for line in out.splitlines() if line.strip())


def test_two_named_servers_of_one_user_run_at_once_as_their_own_jobs(session_of, browser):
    erin = session_of("erin")

    def servers() -> dict[str, Any]:
        return dict(erin.api("GET", "/users/erin").json().get("servers", {}))

    try:
        for name in NAMES:
            reply = erin.api("POST", f"/users/erin/servers/{name}", json={"user_options": OPTIONS[name]})
            assert reply.status_code in (201, 202), reply.text[:300]
        wait_for("both named servers ready", lambda: all(servers().get(n, {}).get("ready") for n in NAMES), 120)
        jobs = erins_jobs()
        assert jobs == {"jupyter-erin-short": "RUNNING debug", "jupyter-erin-long": "RUNNING interactive"}, jobs
        for name in NAMES:  # each answers at its own URL (server_get's path is under /user/erin/)
            reply = erin.server_get(f"{name}/api/status")
            assert reply.status_code == 200, (name, reply.status_code)
        # The home page's grid: each server's place, state, job and node (the page fills in the time left).
        home = re.sub(r"\s+", " ", erin.get(f"{HUB}/hub/home").text)
        for name, (job, node) in ((n, erins_jobs("%i %N")[f"jupyter-erin-{n}"].split()) for n in NAMES):
            row = home[home.index(f'data-server-name="{name}"') :]
            row = row[: row.index("</tr>")]
            place = OPTIONS[name]["partition"]
            for cell in (f'"server-place">{place}<', '"server-state">running<', f'"server-job">{job}<',
                         f'"server-node">{node}<', f'href="/user/erin/{name}/"'):  # fmt: skip
                assert cell in row, (cell, row)

        # In a real browser, the page fills in each job's time left (hpchub.time_left: one squeue).
        log_in(browser, "erin", f"{HUB}/hub/login?next=/hub/home")
        browser.get(f"{HUB}/hub/home")
        cells = (
            "return Object.fromEntries([...document.querySelectorAll('tr[data-server-name]')].map("
            "r => [r.dataset.serverName, r.querySelector('td.server-time-left').textContent.trim()]))"
        )
        WebDriverWait(browser, 30, poll_frequency=0.2).until(
            lambda b: (
                b.execute_script(cells)
                in ({"short": "19 min", "long": "1 h 59 min"}, {"short": "20 min", "long": "2 h 0 min"})
            )
        )
        screenshot(browser, "named-servers.png")

        erin.api("DELETE", "/users/erin/servers/short")
        wait_for("the short server's job gone", lambda: "jupyter-erin-short" not in erins_jobs(), 60, 0.5)
        assert erins_jobs() == {"jupyter-erin-long": "RUNNING interactive"}
        assert servers()["long"]["ready"]
    finally:
        for name in NAMES:
            erin.api("DELETE", f"/users/erin/servers/{name}", json={"remove": True})
        wait_for("erin's named servers' jobs gone", lambda: not erins_jobs(), 60, 0.5)


def test_a_spawn_link_with_the_choices_as_query_arguments_starts_the_server(session_of):
    """A link a course or a paper can give: /hub/spawn/USER/NAME?partition=...&time=... (JupyterHub's
    options_from_query, through the same parser as the form); a bad value is refused, naming the field."""
    erin = session_of("erin")
    try:
        refused = erin.get(f"{HUB}/hub/spawn/erin/course?partition=debug&time=9999")
        assert refused.status_code == 400 and "time" in refused.text
        assert not erin.api("GET", "/users/erin").json().get("servers", {}).get("course", {}).get("ready")
        erin.get(f"{HUB}/hub/spawn/erin/course?partition=debug&time=15&cpus=2")
        wait_for(
            "the linked server ready",
            lambda: erin.api("GET", "/users/erin").json()["servers"].get("course", {}).get("ready"),
            120,
        )
        options = erin.api("GET", "/users/erin").json()["servers"]["course"]["user_options"]
        assert (options["partition"], options["time"], options["cpus"]) == ("debug", "15", "2"), options
        assert erins_jobs("%l %C")["jupyter-erin-course"] == "15:00 2"
    finally:
        erin.api("DELETE", "/users/erin/servers/course", json={"remove": True})
        wait_for("erin's linked server's job gone", lambda: not erins_jobs(), 60, 0.5)
