"""A second factor at the hub's login: each user's one-time-code key, for PAM's pam_oath.

With `jupyterhub_mfa: true` the login form asks for a one-time code (JupyterHub's `request_otp`), and the hub's
PAM service `jupyterhub-mfa` (images/hub/pam-jupyterhub-mfa) checks the password, then the code against the
user's key in USERS_FILE (pam_oath's usersfile: `HOTP/T30/6 NAME - HEXKEY` per user, TOTP of 30 s, 6 digits),
and locks a user out for a minute after 5 failures (pam_faillock).

`hpchub-mfa enrol NAME` makes a user's key, writes it there and prints it once, as a key, an otpauth:// URI and
a QR code for an authenticator app; nothing else ever shows it. The file is the hub's alone (0600, user
jupyterhub, in the hub's state volume); run the command as jupyterhub (or root: the file stays the hub's).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fcntl
import os
import pwd
import re
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

USERS_FILE = Path("/srv/jupyterhub/mfa/users.oath")
HUB_USER = "jupyterhub"
KEY_BYTES = 20  # RFC 4226's recommended 160 bits
DIGITS = 6
PERIOD_S = 30
NAME = re.compile(r"^[a-z_][a-z0-9_.-]{0,31}$")


class EnrolError(Exception):
    """A refused enrolment, with a message for the administrator."""


@contextlib.contextmanager
def locked(users_file: Path, deadline_s: float = 10) -> Iterator[None]:
    """The usersfile's lock for a read-modify-write, as pam_oath takes it: a .lock file beside it that exists
    only while held (pam_oath refuses every code while it exists), locked with fcntl too."""
    lock = users_file.with_name(f"{users_file.name}.lock")
    ends = time.monotonic() + deadline_s
    while True:
        try:
            fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            break
        except FileExistsError:
            if time.monotonic() > ends:
                raise EnrolError(f"{lock} is held (a login is checking a code?): try again") from None
            time.sleep(0.05)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX)
        yield
    finally:
        lock.unlink(missing_ok=True)
        os.close(fd)


def enrol(user: str, users_file: Path = USERS_FILE, replace: bool = False, deadline_s: float = 10) -> bytes:
    """A new key for `user` written into `users_file` (made 0600 if missing); returns the key. Refuses a user
    already enrolled unless `replace` (their old key stops working)."""
    if not NAME.match(user):
        raise EnrolError(f"'{user}' is not a user name")
    users_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = secrets.token_bytes(KEY_BYTES)
    with locked(users_file, deadline_s):
        lines = users_file.read_text().splitlines() if users_file.exists() else []
        others = [line for line in lines if line.split()[1:2] != [user]]
        if len(others) != len(lines) and not replace:
            raise EnrolError(f"{user} is enrolled already: --replace makes a new key (the old one stops working)")
        entry = f"HOTP/T{PERIOD_S}/{DIGITS} {user} - {key.hex()}"
        written = users_file.with_name(f".{users_file.name}.new")
        fd = os.open(written, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write("\n".join([*others, entry]) + "\n")
        written.replace(users_file)
    return key


def otpauth_uri(user: str, key: bytes, issuer: str) -> str:
    """The key as authenticator apps read it (Google's Key URI format)."""
    secret = base64.b32encode(key).decode().rstrip("=")
    label = quote(f"{issuer}:{user}")
    return f"otpauth://totp/{label}?secret={secret}&issuer={quote(issuer)}&digits={DIGITS}&period={PERIOD_S}"


def give_to_hub(paths: list[Path]) -> None:
    """Files made by root become the hub user's (pam_oath runs in the hub's process and rewrites them)."""
    try:
        hub = pwd.getpwnam(HUB_USER)
    except KeyError:  # not on the hub's host
        return
    if os.geteuid() != 0:
        return
    for path in paths:
        if path.exists():
            os.chown(path, hub.pw_uid, hub.pw_gid)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hpchub-mfa", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    enrolling = commands.add_parser("enrol", help="make a user's key and print it once")
    enrolling.add_argument("user")
    enrolling.add_argument("--replace", action="store_true", help="a new key for a user enrolled already")
    enrolling.add_argument("--issuer", default="JupyterHub", help="the name an authenticator app shows")
    enrolling.add_argument("--users-file", type=Path, default=USERS_FILE, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        key = enrol(args.user, args.users_file, args.replace)
    except (EnrolError, OSError) as error:
        print(f"hpchub-mfa: {error}", file=sys.stderr)
        return 1
    give_to_hub([args.users_file.parent, args.users_file])
    uri = otpauth_uri(args.user, key, args.issuer)
    secret = base64.b32encode(key).decode().rstrip("=")
    print(f"{args.user}'s one-time-code key, shown this once: give it to them to add to an authenticator app.")
    print(f"key: {secret}")
    print(f"uri: {uri}")
    sys.stdout.flush()  # before qrencode writes to the same output
    if shutil.which("qrencode"):
        subprocess.run(["qrencode", "-t", "ANSIUTF8", uri], check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
