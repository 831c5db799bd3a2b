"""A real browser for the end-to-end tests: Debian's chromium, headless, trusting the local cluster's certificate
only (by its key), and the hub's pages as a person uses them (the login form, the spawn form)."""

from __future__ import annotations

import base64
import hashlib
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.support.docker import ROOT
from tests.support.hubclient import CERTIFICATE, HUB, PASSWORDS

ARTIFACTS = ROOT / "test-artifacts"  # screenshots, kept for a person to look at
CHROMIUM_FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1280,900",
]  # fmt: skip


class BrowserMissing(RuntimeError):
    """chromium or chromedriver is not installed."""


def certificate_pin() -> str:
    """Base64 SHA-256 of the certificate's public key, for chromium's --ignore-certificate-errors-spki-list."""
    key = x509.load_pem_x509_certificate(CERTIFICATE.read_bytes()).public_key()
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


@contextmanager
def chromium(*extra_flags: str) -> Iterator[webdriver.Chrome]:
    """A headless chromium with a throwaway profile; quit at the end."""
    binary, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (binary and driver):
        raise BrowserMissing("chromium and chromedriver are missing: run `make prerequisites`")
    with tempfile.TemporaryDirectory() as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = binary
        for flag in [
            *CHROMIUM_FLAGS,
            *extra_flags,
            f"--user-data-dir={profile}",
            f"--ignore-certificate-errors-spki-list={certificate_pin()}",
        ]:
            options.add_argument(flag)
        browser = webdriver.Chrome(service=Service(executable_path=driver), options=options)
        try:
            yield browser
        finally:
            browser.quit()


def log_in(
    browser: webdriver.Chrome, user: str, start: str | None = f"{HUB}/hub/login", code: str | None = None
) -> None:
    """Fill in and send the hub's login form as `user`, with the inventory's password (and the one-time `code`,
    with MFA on); the form is opened at `start`, or is already shown when `start` is None."""
    if start is not None:
        browser.get(start)
    browser.find_element(By.ID, "username_input").send_keys(user)
    browser.find_element(By.ID, "password_input").send_keys((PASSWORDS / user).read_text().strip())
    if code is not None:
        browser.find_element(By.ID, "otp_input").send_keys(code)
    browser.find_element(By.ID, "login_submit").click()


def spawn_from_form(
    browser: webdriver.Chrome, user: str, partition: str, account: str, minutes: int, deadline_s: float = 90
) -> None:
    """Fill in the spawn form (the page after login for a user with no server) and wait for JupyterLab's launcher.
    `partition`: the place of that name where the site defines places (the local inventory's are named after
    their partitions), else the partition; the project is under "Advanced" then."""
    wait = WebDriverWait(browser, deadline_s, poll_frequency=0.2)
    wait.until(ready.presence_of_element_located((By.CSS_SELECTOR, "select[name=place], select[name=partition]")))
    places = browser.find_elements(By.NAME, "place")
    Select(places[0] if places else browser.find_element(By.NAME, "partition")).select_by_value(partition)
    if places:
        browser.find_element(By.CSS_SELECTOR, "details#advanced summary").click()
    Select(browser.find_element(By.NAME, "account")).select_by_value(account)
    time_limit = browser.find_element(By.NAME, "time")
    time_limit.clear()
    time_limit.send_keys(str(minutes))
    submit = browser.find_element(By.CSS_SELECTOR, "form input[type=submit], form button[type=submit]")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center', behavior: 'instant'})", submit)
    submit.click()
    wait.until(ready.url_contains(f"/user/{user}/lab"))
    wait_for_lab(browser, deadline_s)


def wait_for_lab(browser: webdriver.Chrome, deadline_s: float = 60) -> None:
    """JupyterLab loaded and its layout restored: a tab in the main area (the launcher, or what the user's saved
    workspace had open; the splash screen goes before that)."""
    wait = WebDriverWait(browser, deadline_s, poll_frequency=0.2)
    wait.until(ready.presence_of_element_located((By.CSS_SELECTOR, ".jp-LabShell")))
    wait.until(ready.visibility_of_element_located((By.CSS_SELECTOR, "#jp-main-dock-panel .lm-TabBar-tab")))


# The first code cell's input prompt: "[ ]:" not run, "[*]:" running or queued, "[3]:" run.
FIRST_PROMPT = "return document.querySelector('.jp-CodeCell .jp-InputPrompt')?.textContent.trim() ?? ''"


def run_first_cell(browser: webdriver.Chrome, kernel_s: float = 60) -> None:
    """Run the open notebook's first code cell as a person does (click, Shift+Enter) once its kernel is connected,
    and see it start. The status bar's "| Idle" is the notebook's kernel connection (the toolbar's execution
    indicator says idle before there is one). A cell run without a connection is cleared back to "[ ]:" by
    JupyterLab, not queued (1 run in 3 in CI on a busy node): Shift+Enter again then, at most 3 times."""
    idle = (By.XPATH, "//*[contains(@class, 'jp-StatusBar')]//*[contains(text(), '| Idle')]")
    WebDriverWait(browser, kernel_s, poll_frequency=0.2).until(ready.presence_of_element_located(idle))
    for _ in range(3):
        editor = WebDriverWait(browser, 10, poll_frequency=0.2).until(
            ready.element_to_be_clickable((By.CSS_SELECTOR, ".jp-CodeCell .cm-content"))
        )
        editor.click()
        editor.send_keys(Keys.SHIFT, Keys.ENTER)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if browser.execute_script(FIRST_PROMPT) not in ("", "[ ]:"):
                return
            time.sleep(0.2)
    prompt = browser.execute_script(FIRST_PROMPT)
    raise AssertionError(f"the first cell did not start after 3 tries: its prompt is {prompt!r}")


# The text of every JupyterLab notification shown (its toasts), for browser.execute_script.
TOASTS = "return [...document.querySelectorAll('.Toastify__toast')].map(toast => toast.textContent)"


def screenshot(browser: webdriver.Chrome, name: str) -> None:
    """Save the page as test-artifacts/NAME."""
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / name))
