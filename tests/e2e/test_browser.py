"""A real browser (Debian's chromium, headless) opens the plain-HTTP address, is sent to HTTPS, logs in,
spawns from the form and sees JupyterLab load. It trusts the local cluster's certificate only (by its key).

The screenshot is kept as a test artifact: test-artifacts/jupyterlab.png.
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.support.docker import ROOT
from tests.support.hubclient import CERTIFICATE, HTTP_PORT, HUB, PASSWORDS, HubSession

ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1280,900",
]  # fmt: skip


def certificate_pin() -> str:
    """Base64 SHA-256 of the certificate's public key, for chromium's --ignore-certificate-errors-spki-list."""
    key = x509.load_pem_x509_certificate(CERTIFICATE.read_bytes()).public_key()
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver):
        pytest.fail("chromium and chromedriver are missing: run `make prerequisites`")
    with tempfile.TemporaryDirectory() as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = chromium
        for flag in [
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            f"--ignore-certificate-errors-spki-list={certificate_pin()}",
        ]:
            options.add_argument(flag)
        chrome = webdriver.Chrome(service=Service(executable_path=driver), options=options)
        try:
            yield chrome
        finally:
            chrome.quit()


def test_browser_logs_in_spawns_and_sees_jupyterlab(browser):
    user = "bob"
    wait = WebDriverWait(browser, 90, poll_frequency=0.2)
    try:
        browser.get(f"{HTTP_PORT}/hub/login")
        assert browser.current_url == f"{HUB}/hub/login"  # redirected to HTTPS
        browser.find_element(By.ID, "username_input").send_keys(user)
        browser.find_element(By.ID, "password_input").send_keys((PASSWORDS / user).read_text().strip())
        browser.find_element(By.ID, "login_submit").click()
        partition = Select(wait.until(ready.presence_of_element_located((By.NAME, "partition"))))
        partition.select_by_value("interactive")
        Select(browser.find_element(By.NAME, "account")).select_by_value("m2000")
        time_limit = browser.find_element(By.NAME, "time")
        time_limit.clear()
        time_limit.send_keys("20")
        start = browser.find_element(By.CSS_SELECTOR, "form input[type=submit], form button[type=submit]")
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", start)
        start.click()
        wait.until(ready.url_contains(f"/user/{user}/lab"))
        wait.until(ready.presence_of_element_located((By.CSS_SELECTOR, ".jp-LabShell")))
        wait.until(ready.visibility_of_element_located((By.CSS_SELECTOR, ".jp-LauncherCard")))  # fully loaded
        assert "JupyterLab" in browser.title
    finally:
        ARTIFACTS.mkdir(exist_ok=True)
        browser.save_screenshot(str(ARTIFACTS / "jupyterlab.png"))
        session = HubSession(user)
        if session.login().status_code == 200 and session.server():
            session.stop()


def test_screenshot_is_kept(tmp_path: Path):
    # Written by the test above (pytest runs the module in order): proof for a person to look at.
    shot = ARTIFACTS / "jupyterlab.png"
    assert shot.exists() and shot.stat().st_size > 10_000
