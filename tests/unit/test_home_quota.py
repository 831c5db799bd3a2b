"""The pre-spawn home-quota check: its contract (0 under, 1 over with a message on stdout, anything else lets
the spawn go on) with real processes, and the hub image's du helper on a real directory."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
from pathlib import Path

import pytest
from hpchub.home_quota import QuotaCheck, check_home_quota

ROOT = Path(__file__).resolve().parents[2]
HELPER = ROOT / "images/hub/hpchub-home-quota"
LOG = logging.getLogger("test")


def verdict(command: str, home: str = "/tmp", timeout: float = 5):
    check = QuotaCheck(command, as_user=False, timeout_s=timeout)
    return asyncio.run(check_home_quota(check, "alice", home, LOG))


def test_no_command_means_no_check():
    assert verdict("").allowed


def test_exit_0_allows_and_exit_1_refuses_with_the_first_line_of_output():
    assert verdict("true").allowed
    refused = verdict("sh -c 'echo; echo Home of {username} is full; echo more; exit 1'")
    assert not refused.allowed and refused.message == "Home of alice is full"


def test_a_broken_or_slow_check_lets_the_spawn_go_on_and_is_logged(caplog):
    with caplog.at_level(logging.ERROR):
        assert verdict("sh -c 'exit 3'").allowed
        assert verdict("/nonexistent/quota-tool").allowed
        assert verdict("sleep 5", timeout=0.2).allowed
    assert len([r for r in caplog.records if "spawn allowed" in r.getMessage()]) == 3


def test_a_refusal_by_sudo_is_a_failed_check_not_a_verdict(caplog):
    # sudo -n exits 1 when its rule does not match (a users' group other than the sudoers file's): that is no
    # "over quota", whatever the exit status says.
    with caplog.at_level(logging.ERROR):
        assert verdict("sh -c 'echo \"sudo: a password is required\" >&2; exit 1'").allowed
    (record,) = [r for r in caplog.records if "spawn allowed" in r.getMessage()]
    assert "sudo: a password is required" in record.getMessage() and "check the sudo rule" in record.getMessage()


def test_exit_1_with_nothing_to_tell_the_user_is_a_failed_check(caplog):
    with caplog.at_level(logging.ERROR):
        assert verdict("sh -c 'exit 1'").allowed
    assert any("failed (exit 1): no message" in r.getMessage() for r in caplog.records)


def test_values_are_substituted_per_word_and_never_reach_a_shell():
    check = QuotaCheck("tool --user {username} {home}", as_user=True)
    argv = check.argv("alice", "/home/a b;rm -rf /")
    assert argv == ["sudo", "-n", "-u", "alice", "tool", "--user", "alice", "/home/a b;rm -rf /"]


def run_helper(limit_mb: int, home: Path) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, str(HELPER), "--limit-mb", str(limit_mb), str(home)]
    return subprocess.run(argv, capture_output=True, text=True, check=False)


@pytest.mark.parametrize(("size_mb", "limit_mb", "code"), [(0, 10, 0), (3, 10, 0), (12, 10, 1)])
def test_helper_measures_the_home_with_du(tmp_path, size_mb, limit_mb, code):
    (tmp_path / "data").write_bytes(b"\1" * size_mb * 1024 * 1024)
    done = run_helper(limit_mb, tmp_path)
    assert done.returncode == code, done.stderr
    if code == 1:
        assert f"of its {limit_mb} MB quota" in done.stdout and str(tmp_path) in done.stdout


def test_helper_cannot_tell_about_a_missing_home(tmp_path):
    done = run_helper(10, tmp_path / "missing")
    assert done.returncode == 2 and "hpchub-home-quota:" in done.stderr
