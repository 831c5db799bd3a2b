"""The hub's login: JupyterHub's PAMAuthenticator, with one difference a centre's users need: when the directory
does not answer, the login says so (503), instead of "Invalid username or password", which would send users to
reset a password that is fine. Known users whose password SSSD has cached still log in then.

PAM alone cannot tell: offline, pam_sss refuses a user it holds no password for with PAM_PERM_DENIED, the code
of any refusal. So a failed login asks whether the directory answers (a TCP connection to `directory_uri`, the
hub's setting from accounts_ldap_uri, 2 s at most); failures only pay for it. PAM_AUTHINFO_UNAVAIL, where a
module gives it, means the same (the hub's PAM services end the stack with it: `authinfo_unavail=die`).
docs/upstream.md lists `authenticate`, a copy of upstream's with this one branch.
"""

from __future__ import annotations

import socket
import time
from typing import Any
from urllib.parse import urlsplit

import pamela  # type: ignore[import-untyped]
from jupyterhub.auth import PAMAuthenticator
from tornado import web
from tornado.concurrent import run_on_executor
from traitlets import Integer, Unicode

PAM_AUTHINFO_UNAVAIL = 9  # Linux-PAM's _pam_types.h: "authentication service cannot retrieve authentication info"
DIRECTORY_DOWN = (
    "The directory of users is not answering, so your password cannot be checked now: nothing is wrong with it. "
    "Try again in a minute; running servers are not affected."
)


class DirectoryPAMAuthenticator(PAMAuthenticator):  # type: ignore[misc]
    """PAM, through the hub image's own PAM service, telling a directory that does not answer from a wrong
    password."""

    service = Unicode("jupyterhub", help="The PAM service: the hub image's (images/hub/pam-jupyterhub)").tag(
        config=True
    )
    unavailable_attempts = Integer(
        4, help="Tries, 1 s apart, while PAM says the directory is unavailable but it accepts connections"
    ).tag(config=True)
    directory_uri = Unicode(
        "", help="The directory's URI (ldap[s]://HOST[:PORT]), asked after a failed login; empty: no directory"
    ).tag(config=True)

    def directory_answers(self, timeout_s: float = 2) -> bool:
        """Whether the directory accepts a connection (always, without a directory)."""
        if not self.directory_uri:
            return True
        where = urlsplit(self.directory_uri)
        port = where.port or (636 if where.scheme == "ldaps" else 389)
        try:
            socket.create_connection((where.hostname, port), timeout=timeout_s).close()
        except OSError:
            return False
        return True

    @run_on_executor
    def authenticate(self, handler: Any, data: dict[str, str]) -> str | None:
        username = data["username"]
        password: str | tuple[str, str] = (data["password"], data["otp"]) if "otp" in data else data["password"]
        where = f"{username[:32]!r}@{handler.request.remote_ip}" if handler is not None else repr(username[:32])
        for attempt in range(1, self.unavailable_attempts + 1):
            try:
                pamela.authenticate(username, password, service=self.service, encoding=self.encoding)
                if self.check_account:
                    pamela.check_account(username, service=self.service, encoding=self.encoding)
                return username
            except pamela.PAMError as error:
                unavailable = error.errno == PAM_AUTHINFO_UNAVAIL
                answers = self.directory_answers()
                if unavailable and answers and attempt < self.unavailable_attempts:
                    time.sleep(1)  # SSSD (re)connecting, as in the seconds after the hub starts: ask again
                    continue
                if unavailable or not answers:
                    self.log.error("PAM: the directory is not answering (%s): %s", where, error)
                    raise web.HTTPError(503, DIRECTORY_DOWN) from None
                self.log.warning("PAM Authentication failed (%s): %s", where, error)
                return None
        return None
