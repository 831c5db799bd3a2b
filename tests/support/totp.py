"""One-time codes as an authenticator app computes them (RFC 6238 TOTP over RFC 4226 HOTP, SHA-1)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
import time


def hotp(key: bytes, counter: int, digits: int = 6) -> str:
    mac = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**digits).zfill(digits)


def totp(key: bytes, at: float | None = None, period_s: int = 30, digits: int = 6) -> str:
    """The code for time `at` (now by default)."""
    return hotp(key, int((time.time() if at is None else at) // period_s), digits)


def key_of(base32: str) -> bytes:
    """A key as printed for apps (base32, padding dropped)."""
    return base64.b32decode(base32 + "=" * (-len(base32) % 8))
