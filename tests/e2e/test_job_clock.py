"""The server's own clock in a real browser: JupyterLab's status bar shows the time left in the server's Slurm
job (packages/job-clock), consistent with squeue, and warns before the job's time limit ends (at 10
and at 2 minutes) so that the user saves their work. Screenshots: test-artifacts/job-clock*.png."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from selenium import webdriver
from selenium.webdriver.support.ui import WebDriverWait

from tests.support.browser import TOASTS, log_in, screenshot, spawn_from_form
from tests.support.cluster import jupyter_jobs, squeue_time_left
from tests.support.hubclient import HubSession

USER, ACCOUNT = "erin", "m1000"
SHOWN = re.compile(r"^Job (\d+): (?:(\d+) h (\d+) min|(\d+) min (\d+) s) left$")


@pytest.fixture
def server_stopped_after() -> Iterator[None]:
    yield
    session = HubSession(USER)
    if session.login().status_code == 200 and session.server():
        session.stop()


def clock_text(browser: webdriver.Chrome) -> str:
    return str(browser.execute_script("return document.getElementById('hpc-job-clock')?.textContent || ''"))


def warnings_shown(browser: webdriver.Chrome) -> list[str]:
    return [text for text in browser.execute_script(TOASTS) if "save your work" in text]


def test_the_status_bar_shows_the_jobs_time_left_as_squeue_does(browser, server_stopped_after):
    log_in(browser, USER)
    spawn_from_form(browser, USER, "interactive", ACCOUNT, minutes=20)
    try:
        WebDriverWait(browser, 30, poll_frequency=0.2).until(lambda b: SHOWN.match(clock_text(b)))
        shown = SHOWN.match(clock_text(browser))
        assert shown is not None
        job = shown.group(1)
        seconds_shown = int(
            browser.execute_script("return document.getElementById('hpc-job-clock').dataset.secondsLeft")
        )
        assert jupyter_jobs().get(job) == USER, clock_text(browser)
        assert abs(seconds_shown - squeue_time_left(job)) <= 10, (clock_text(browser), squeue_time_left(job))
        assert 18 * 60 < seconds_shown <= 20 * 60, clock_text(browser)
        assert warnings_shown(browser) == []  # 20 minutes: nothing to warn about yet
    finally:
        screenshot(browser, "job-clock.png")


def test_a_server_near_its_time_limit_warns_at_10_and_at_2_minutes(browser, server_stopped_after):
    log_in(browser, USER)
    spawn_from_form(browser, USER, "interactive", ACCOUNT, minutes=3)
    try:
        # Under 10 minutes from the start: one warning (not one per threshold already passed).
        first = WebDriverWait(browser, 30, poll_frequency=0.2).until(warnings_shown)
        assert len(first) == 1 and re.search(r"ends in [23] min", first[0]), first
        # The job crosses 2 minutes left within the first minute: the second warning.
        both = WebDriverWait(browser, 75, poll_frequency=0.5).until(
            lambda b: len(warnings_shown(b)) >= 2 and warnings_shown(b)
        )
        # JupyterLab shows the newest notification first.
        assert re.search(r"ends in (1 min 5\d s|2 min 00 s)", both[0]) and both[1] == first[0], both
    finally:
        screenshot(browser, "job-clock-warning.png")
