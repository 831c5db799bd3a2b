#!/usr/bin/python3
"""ldap_reader_check: can this host read the site's directory with the inventory's settings? One search for one
user (objectClass=posixAccount) under the base DN, bound as the reader, over StartTLS (ldap://) or TLS
(ldaps://) trusting only the given CA; what failed is named by the setting that decides it. The Python standard
library only (sockets, ssl, a few LDAPv3 messages in BER), so that a bare host is checked before anything is
installed or changed on it. Never changes anything."""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from ansible.module_utils.basic import AnsibleModule

START_TLS_OID = "1.3.6.1.4.1.1466.20037"
INVALID_CREDENTIALS, NO_SUCH_OBJECT, SIZE_LIMIT_EXCEEDED = 49, 32, 4


class CheckFailed(Exception):
    """The directory did not accept a setting: `setting` names the inventory variable, `said` what happened."""

    def __init__(self, setting: str, said: str) -> None:
        super().__init__(f"{setting}: {said}")
        self.setting, self.said = setting, said


def ber_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    octets = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(octets)]) + octets


def tlv(tag: int, value: bytes) -> bytes:
    return bytes([tag]) + ber_length(len(value)) + value


def integer(value: int, tag: int = 0x02) -> bytes:
    return tlv(tag, value.to_bytes(max(1, (value.bit_length() + 8) // 8), "big", signed=True))


def octets(value: str, tag: int = 0x04) -> bytes:
    return tlv(tag, value.encode())


def message(message_id: int, operation: bytes) -> bytes:
    """An LDAPMessage: SEQUENCE {messageID, protocolOp}."""
    return tlv(0x30, integer(message_id) + operation)


def start_tls_request(message_id: int) -> bytes:
    return message(message_id, tlv(0x77, octets(START_TLS_OID, 0x80)))  # ExtendedRequest, requestName [0]


def bind_request(message_id: int, dn: str, password: str) -> bytes:
    return message(message_id, tlv(0x60, integer(3) + octets(dn) + octets(password, 0x80)))  # simple [0]


def search_request(message_id: int, base: str) -> bytes:
    """One entry of objectClass posixAccount under `base`, whole subtree, no attributes ("1.1"), 10 s."""
    body = (octets(base) + integer(2, 0x0A) + integer(0, 0x0A) + integer(1) + integer(10) + tlv(0x01, b"\x00")
            + tlv(0xA3, octets("objectClass") + octets("posixAccount")) + tlv(0x30, octets("1.1")))  # fmt: skip
    return message(message_id, tlv(0x63, body))


@dataclass(frozen=True)
class Element:
    tag: int
    value: bytes


def elements(data: bytes) -> list[Element]:
    """The BER elements one after another in `data`."""
    found, at = [], 0
    while at < len(data):
        tag, length, at = data[at], data[at + 1], at + 2
        if length & 0x80:
            size = length & 0x7F
            length, at = int.from_bytes(data[at : at + size], "big"), at + size
        found.append(Element(tag, data[at : at + length]))
        at += length
    return found


def receive(sock: socket.socket | ssl.SSLSocket) -> Element:
    """One LDAPMessage's protocolOp from the connection."""

    def exactly(count: int) -> bytes:
        data = b""
        while len(data) < count:
            chunk = sock.recv(count - len(data))
            if not chunk:
                raise ConnectionError("the directory closed the connection")
            data += chunk
        return data

    head = exactly(2)
    length = head[1]
    if length & 0x80:
        length = int.from_bytes(exactly(length & 0x7F), "big")
    _message_id, operation = elements(exactly(length))[:2]
    return operation


def result(operation: Element) -> tuple[int, str]:
    """An LDAPResult's resultCode and diagnosticMessage."""
    code, _matched, diagnostic = elements(operation.value)[:3]
    return int.from_bytes(code.value, "big"), diagnostic.value.decode(errors="replace")


def check(uri: str, base_dn: str, bind_dn: str, password: str, ca: str, timeout: float = 10) -> None:
    """CheckFailed naming the setting when the reader cannot find one user under `base_dn` at `uri`."""
    parts = urlsplit(uri)
    if parts.scheme not in ("ldap", "ldaps") or not parts.hostname:
        raise CheckFailed("accounts_ldap_uri", f"{uri} is not ldap://HOST or ldaps://HOST")
    port = parts.port or (636 if parts.scheme == "ldaps" else 389)
    try:
        context = ssl.create_default_context(cadata=ca)
    except (ssl.SSLError, ValueError) as err:
        raise CheckFailed("accounts_ldap_ca_file", f"not a CA certificate in PEM ({err})") from None
    try:
        raw = socket.create_connection((parts.hostname, port), timeout=timeout)
    except OSError as err:
        raise CheckFailed("accounts_ldap_uri", f"{uri} does not answer ({err.strerror or err})") from None
    with raw:
        try:
            if parts.scheme == "ldap":
                raw.sendall(start_tls_request(1))
                code, said = result(receive(raw))
                if code != 0:
                    raise CheckFailed("accounts_ldap_uri", f"{uri} refused StartTLS ({code}: {said})")
            sock = context.wrap_socket(raw, server_hostname=parts.hostname)
        except ssl.SSLError as err:
            raise CheckFailed(
                "accounts_ldap_ca_file",
                f"no TLS with {uri} trusting that CA (or the host is not named in the directory's certificate): "
                f"{err.reason or err}",
            ) from None
        except OSError as err:
            raise CheckFailed("accounts_ldap_uri", f"{uri} does not answer ({err.strerror or err})") from None
        with sock:
            sock.sendall(bind_request(2, bind_dn, password))
            code, said = result(receive(sock))
            if code == INVALID_CREDENTIALS:
                raise CheckFailed(
                    "accounts_ldap_bind_dn / accounts_ldap_bind_password_file",
                    f"the directory refused the reader's credentials ({said or 'invalid credentials'})",
                )
            if code != 0:
                raise CheckFailed("accounts_ldap_bind_dn", f"the directory refused the bind ({code}: {said})")
            sock.sendall(search_request(3, base_dn))
            first = receive(sock)
            if first.tag == 0x64:  # SearchResultEntry: a user
                return
            code, said = result(first)
            if code in (0, NO_SUCH_OBJECT, SIZE_LIMIT_EXCEEDED):
                raise CheckFailed("accounts_ldap_base_dn", f"no user (posixAccount) under {base_dn} ({said or code})")
            raise CheckFailed("accounts_ldap_base_dn", f"the search under {base_dn} failed ({code}: {said})")


def main() -> None:
    module = AnsibleModule(
        argument_spec={"uri": {"type": "str", "required": True}, "base_dn": {"type": "str", "required": True},
                       "bind_dn": {"type": "str", "required": True},
                       "password": {"type": "str", "required": True, "no_log": True},
                       "ca": {"type": "str", "required": True}},
        supports_check_mode=True,
    )  # fmt: skip
    params = module.params
    try:
        check(params["uri"], params["base_dn"], params["bind_dn"], params["password"].rstrip("\n"), params["ca"])
    except CheckFailed as failed:
        module.fail_json(msg=f"{failed.setting}: {failed.said}", setting=failed.setting)
    module.exit_json(changed=False)


if __name__ == "__main__":
    main()
