"""A second factor at the login (jupyterhub_mfa): the hub redeployed with it on (and off again after), alice
enrolled with `hpchub-mfa enrol`, then logging in as she would: in chromium with her password and the code of
an authenticator app; a wrong code refused as a wrong password is; a replayed code refused; the sixth failure
in a minute locked out even with the right code; API tokens capped in lifetime."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from selenium.webdriver.support.ui import WebDriverWait

from tests.support.browser import chromium, log_in
from tests.support.docker import ROOT, on
from tests.support.hubclient import HUB, HubSession, public_get
from tests.support.infra import VENV_BIN
from tests.support.totp import hotp, key_of
from tests.support.waiting import wait_for

USER = "alice"
TOKEN_MAX_S = 3600
REFUSED = "Invalid username or password"  # JupyterHub's one message for every failed login


def deploy_hub(mfa: bool) -> None:
    """The hub's play of site.yml only, with MFA on or off (the hub restarts when its settings change)."""
    # Off, the inventory's own settings again (make up after the tests changes nothing).
    settings = ["-e", "jupyterhub_mfa=true", "-e", f"jupyterhub_mfa_token_max_seconds={TOKEN_MAX_S}"] if mfa else []
    done = subprocess.run(
        [str(VENV_BIN / "ansible-playbook"), "-i", "inventories/local", "deploy/site.yml", "--limit", "hub", *settings],
        capture_output=True, text=True, check=False, cwd=ROOT, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:]


def reset_lockout() -> None:
    done = on("jupyterhub", f"faillock --dir /srv/jupyterhub/faillock --user {USER} --reset")
    assert done.returncode == 0, done.stderr


@dataclass
class App:
    """alice's authenticator app: her key, and the last time step she used (pam_oath refuses a used step)."""

    key: bytes
    used: int = 0

    def code(self, consumed: bool = True) -> str:
        """The next code pam_oath takes: a later step than the last one used, within its window of 3 steps
        ahead (an app would make the user wait for the next step: so does this). `consumed`: the login reaches
        pam_oath (not when the password is wrong)."""
        wait_for("a time step pam_oath's window takes", self._usable, 95, 0.5)
        step = self._usable()
        if consumed:
            self.used = step
        return hotp(self.key, step)

    def _usable(self) -> int:
        now = int(time.time() // 30)
        step = max(now, self.used + 1)
        return step if step <= now + 2 else 0


@pytest.fixture(scope="module")
def app() -> Iterator[App]:
    deploy_hub(mfa=True)
    try:
        enrolled = on("jupyterhub", f"hpchub-mfa enrol {USER} --replace --issuer 'hpclocal Jupyter'", user="jupyterhub")
        assert enrolled.returncode == 0, enrolled.stderr
        key = next(line.split(": ", 1)[1] for line in enrolled.stdout.splitlines() if line.startswith("key: "))
        reset_lockout()
        yield App(key_of(key))
    finally:
        on("jupyterhub", f"faillock --dir /srv/jupyterhub/faillock --user {USER} --reset")
        deploy_hub(mfa=False)
        assert 'name="otp"' not in public_get("/hub/login").text, "MFA still on after the module"


def refused(session: HubSession, code: str) -> bool:
    reply = session.login(code)
    return "/hub/login" in reply.url and REFUSED in reply.text


def test_the_keys_are_the_hubs_alone(app):
    keys = on("jupyterhub", "stat -c '%U %a' /srv/jupyterhub/mfa /srv/jupyterhub/mfa/users.oath").stdout.split("\n")
    assert keys[:2] == ["jupyterhub 700", "jupyterhub 600"], keys


def test_password_and_code_log_in_in_a_browser(app):
    with chromium() as browser:
        browser.get(f"{HUB}/hub/login")
        assert browser.find_element("id", "otp_input").get_attribute("name") == "otp"
        log_in(browser, USER, start=None, code=app.code())
        WebDriverWait(browser, 30).until(lambda b: "/hub/login" not in b.current_url)
        assert browser.current_url.startswith(HUB), browser.current_url  # the spawn page, or her running server


def test_a_wrong_code_reads_as_a_wrong_password_and_a_used_code_is_refused(app):
    assert refused(HubSession(USER), "000000")
    assert refused(HubSession(USER, password="not-her-password"), app.code(consumed=False))
    good = app.code()
    assert not refused(HubSession(USER), good)
    assert refused(HubSession(USER), good)  # replayed: pam_oath remembers the last step used
    reset_lockout()


def test_the_sixth_try_in_a_minute_is_locked_out_even_with_the_right_code(app):
    reset_lockout()
    for _ in range(5):
        assert refused(HubSession(USER), "000000")
    assert refused(HubSession(USER), app.code())
    reset_lockout()
    assert not refused(HubSession(USER), app.code())  # unlocked (by an admin here; by itself after 60 s)


def test_api_tokens_live_no_longer_than_the_maximum(app):
    session = HubSession(USER)
    assert not refused(session, app.code())
    too_long = session.api("POST", f"/users/{USER}/tokens", json={"note": "forever", "expires_in": 10 * 365 * 86400})
    assert too_long.status_code == 400, too_long.text[:300]
    default = session.api("POST", f"/users/{USER}/tokens", json={"note": "default"})
    assert default.status_code == 201, default.text[:300]
    assert default.json()["expires_at"] is not None
