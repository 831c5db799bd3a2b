"""The one-time-code keys of the hub's second factor (hpchub.mfa): what `hpchub-mfa enrol` writes for pam_oath
and prints for the user's authenticator app."""

from __future__ import annotations

import base64
import stat
from urllib.parse import parse_qs, urlparse

import pytest
from hpchub.mfa import EnrolError, enrol, main, otpauth_uri

from tests.support.totp import hotp, key_of, totp


def test_the_totp_helper_meets_rfc_6238s_test_vector():
    # RFC 6238 appendix B, SHA-1, T = 59 s: 94287082 (8 digits); RFC 4226 appendix D, counter 0: 755224.
    assert totp(b"12345678901234567890", at=59, digits=8) == "94287082"
    assert hotp(b"12345678901234567890", 0) == "755224"


def test_enrol_writes_pam_oaths_line_in_a_file_only_its_owner_reads(tmp_path):
    users = tmp_path / "mfa/users.oath"
    key = enrol("alice", users)
    assert users.read_text() == f"HOTP/T30/6 alice - {key.hex()}\n"
    assert stat.S_IMODE(users.stat().st_mode) == 0o600
    assert stat.S_IMODE(users.parent.stat().st_mode) == 0o700
    assert len(key) == 20


def test_no_lock_file_is_left_behind_as_pam_oath_reads_one_as_held(tmp_path):
    users = tmp_path / "users.oath"
    enrol("alice", users)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["users.oath"]
    (tmp_path / "users.oath.lock").touch()  # held by a login checking a code
    with pytest.raises(EnrolError, match="is held"):
        enrol("bob", users, deadline_s=0.2)


def test_a_second_enrolment_is_refused_unless_replaced_and_other_users_are_kept(tmp_path):
    users = tmp_path / "users.oath"
    enrol("alice", users)
    bob = enrol("bob", users)
    with pytest.raises(EnrolError, match="enrolled already"):
        enrol("alice", users)
    new = enrol("alice", users, replace=True)
    lines = users.read_text().splitlines()
    assert lines == [f"HOTP/T30/6 bob - {bob.hex()}", f"HOTP/T30/6 alice - {new.hex()}"]


@pytest.mark.parametrize("name", ["", "Alice", "a b", "../x", "-rf", "x" * 40])
def test_a_name_that_is_not_a_user_name_is_refused(tmp_path, name):
    with pytest.raises(EnrolError, match="not a user name"):
        enrol(name, tmp_path / "users.oath")


def test_the_uri_carries_the_key_an_app_computes_the_same_codes_from(tmp_path):
    key = enrol("alice", tmp_path / "users.oath")
    uri = urlparse(otpauth_uri("alice", key, "Perlmutter Jupyter"))
    query = parse_qs(uri.query)
    assert (uri.scheme, uri.netloc, uri.path) == ("otpauth", "totp", "/Perlmutter%20Jupyter%3Aalice")
    assert (query["digits"], query["period"], query["issuer"]) == (["6"], ["30"], ["Perlmutter Jupyter"])
    assert key_of(query["secret"][0]) == key
    assert totp(key_of(query["secret"][0]), at=1_000_000) == totp(key, at=1_000_000)


def test_the_command_prints_the_key_once_and_a_refusal_on_stderr(tmp_path, capsys):
    users = tmp_path / "users.oath"
    assert main(["enrol", "alice", "--users-file", str(users)]) == 0
    printed = capsys.readouterr().out
    secret = next(line.split(": ", 1)[1] for line in printed.splitlines() if line.startswith("key: "))
    assert base64.b32decode(secret + "=" * (-len(secret) % 8)).hex() in users.read_text()
    assert main(["enrol", "alice", "--users-file", str(users)]) == 1
    refused = capsys.readouterr()
    assert refused.out == "" and "enrolled already" in refused.err
