"""A real browser (Debian's chromium, headless) opens the plain-HTTP address, is sent to HTTPS, logs in,
spawns from the form and sees JupyterLab load. It trusts the local cluster's certificate only (by its key).

The screenshot is kept as a test artifact: test-artifacts/jupyterlab.png.
"""

from __future__ import annotations

from pathlib import Path

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import WebDriverWait

from tests.support.browser import ARTIFACTS, log_in, screenshot, spawn_from_form
from tests.support.hubclient import HTTP_PORT, HUB, HubSession


def test_browser_logs_in_spawns_and_sees_jupyterlab(browser):
    user = "bob"
    try:
        browser.get(f"{HTTP_PORT}/hub/login")
        assert browser.current_url == f"{HUB}/hub/login"  # redirected to HTTPS
        log_in(browser, user, start=None)
        spawn_from_form(browser, user, partition="interactive", account="m2000", minutes=20)
        launcher = (By.CSS_SELECTOR, ".jp-LauncherCard")  # the layout of a user with no saved workspace
        WebDriverWait(browser, 30, poll_frequency=0.2).until(ready.visibility_of_element_located(launcher))
        assert "JupyterLab" in browser.title
    finally:
        screenshot(browser, "jupyterlab.png")
        session = HubSession(user)
        if session.login().status_code == 200 and session.server():
            session.stop()


def test_screenshot_is_kept(tmp_path: Path):
    # Written by the test above (pytest runs the module in order): proof for a person to look at.
    shot = ARTIFACTS / "jupyterlab.png"
    assert shot.exists() and shot.stat().st_size > 10_000
