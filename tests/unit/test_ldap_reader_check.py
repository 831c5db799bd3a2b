"""roles/accounts/library/ldap_reader_check.py: the few LDAPv3 messages it speaks, byte for byte (RFC 4511's BER),
and the settings it names without a directory. Against a real slapd it is run by tests/infra/test_directory.py
(each wrong setting named) and by every deploy on the ldap backend."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.support.scripts import load_script

ROOT = Path(__file__).resolve().parents[2]
SYSTEM_CAS = Path("/etc/ssl/certs/ca-certificates.crt")  # Debian's, a valid PEM bundle


check = load_script(ROOT / "roles/accounts/library/ldap_reader_check.py", "ldap_reader_check")


def test_a_simple_bind_is_encoded_as_rfc_4511_says():
    # LDAPMessage {messageID 1, BindRequest [APPLICATION 0] {version 3, name "cn=a", simple [0] "p"}}
    assert check.bind_request(1, "cn=a", "p").hex() == "3011020101600c020103040463" + "6e3d61" + "800170"


def test_starttls_is_an_extended_request_with_its_oid():
    encoded = check.start_tls_request(1)
    assert encoded[:5].hex() == "301d020101" and encoded[5] == 0x77  # ExtendedRequest [APPLICATION 23]
    assert encoded.endswith(b"\x80\x161.3.6.1.4.1.1466.20037")


def test_the_search_asks_for_one_posix_account_and_no_attributes():
    operation = check.elements(check.elements(check.search_request(3, "dc=a"))[0].value)[1]
    assert operation.tag == 0x63  # SearchRequest [APPLICATION 3]
    base, scope, deref, size, time, types_only, filt, attributes = check.elements(operation.value)
    assert (base.value, scope.value, deref.value, size.value, time.value) == (
        b"dc=a",
        b"\x02",
        b"\x00",
        b"\x01",
        b"\x0a",
    )
    assert types_only.value == b"\x00" and filt.tag == 0xA3  # equalityMatch
    assert [e.value for e in check.elements(filt.value)] == [b"objectClass", b"posixAccount"]
    assert [e.value for e in check.elements(attributes.value)] == [b"1.1"]


def test_long_lengths_are_read():
    value = b"x" * 300
    assert check.elements(check.octets(value.decode()))[0].value == value
    assert check.ber_length(300) == b"\x82\x01\x2c"


def test_a_result_gives_its_code_and_message():
    result = check.Element(0x61, bytes.fromhex("0a0131") + b"\x04\x00" + b"\x04\x07invalid")
    assert check.result(result) == (49, "invalid")


@pytest.mark.parametrize("uri", ["http://ldap", "ldap://", "ldapi:///run/slapd.sock"])
def test_a_uri_that_is_not_ldap_or_ldaps_names_accounts_ldap_uri(uri):
    with pytest.raises(check.CheckFailed) as failed:
        check.check(uri, "dc=a", "cn=r", "pw", "")
    assert failed.value.setting == "accounts_ldap_uri"


def test_a_port_nobody_listens_on_names_accounts_ldap_uri():
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with pytest.raises(check.CheckFailed) as failed:
        check.check(f"ldap://127.0.0.1:{port}", "dc=a", "cn=r", "pw", SYSTEM_CAS.read_text(), timeout=2)
    assert failed.value.setting == "accounts_ldap_uri" and "does not answer" in failed.value.said


def test_a_ca_file_that_is_no_certificate_names_accounts_ldap_ca_file():
    with pytest.raises(check.CheckFailed) as failed:
        check.check("ldap://127.0.0.1", "dc=a", "cn=r", "pw", "not a certificate")
    assert failed.value.setting == "accounts_ldap_ca_file"
