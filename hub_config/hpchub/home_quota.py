"""The pre-spawn home-quota check: a site command that says whether a user's home has room.

The command is the site's (a wrapper around `lfs quota`, `mmlsquota`, `quota`, or the `hpchub-home-quota`
helper of the hub image, which measures with `du`). Its contract:

- exit 0: under quota, the spawn goes on;
- exit 1 with a line on standard output: over quota, the spawn is refused and that first line is shown
  to the user;
- anything else (an error, a timeout, exit 1 with nothing on standard output): the check itself failed; the
  spawn goes on and the hub logs why, because a quota tool that is down must not take the whole service down
  with it. sudo's own refusals ("sudo: a password is required": a sudo rule that does not match the users'
  group) exit 1 too, with nothing on standard output: they read as a failed check, never as a verdict.

`{username}` and `{home}` in the command are replaced in each word after it is split, so a value can
never become a second word or a shell construct; no shell is involved.
"""

from __future__ import annotations

import asyncio
import logging
import shlex
from dataclasses import dataclass

EXIT_UNDER_QUOTA = 0
EXIT_OVER_QUOTA = 1
MAX_MESSAGE = 300


@dataclass(frozen=True)
class QuotaCheck:
    command: str  # empty: no check
    as_user: bool = True  # run through `sudo -u <user>` (the hub image's sudoers allows the helper only)
    timeout_s: float = 10.0

    def argv(self, username: str, home: str) -> list[str]:
        words = [word.format(username=username, home=home) for word in shlex.split(self.command)]
        return ["sudo", "-n", "-u", username, *words] if self.as_user else words


@dataclass(frozen=True)
class QuotaVerdict:
    allowed: bool
    message: str = ""


async def check_home_quota(check: QuotaCheck, username: str, home: str, log: logging.Logger) -> QuotaVerdict:
    if not check.command.strip():
        return QuotaVerdict(True)
    argv = check.argv(username, home)
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
    except OSError as error:
        log.error("Home quota check of %s could not run (%s): %s; spawn allowed", username, argv[0], error)
        return QuotaVerdict(True)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), check.timeout_s)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        log.error("Home quota check of %s gave no answer in %.0f s; spawn allowed", username, check.timeout_s)
        return QuotaVerdict(True)
    if proc.returncode == EXIT_UNDER_QUOTA:
        return QuotaVerdict(True)
    first = next((line.strip() for line in out.decode(errors="replace").splitlines() if line.strip()), "")
    if proc.returncode == EXIT_OVER_QUOTA and first:
        log.info("Spawn of %s refused by the home quota check: %s", username, first[:MAX_MESSAGE])
        return QuotaVerdict(False, first[:MAX_MESSAGE])
    reason = err.decode(errors="replace").strip()[:MAX_MESSAGE] or "no message"
    hint = " (the hub may not run it as the user: check the sudo rule)" if reason.startswith("sudo:") else ""
    log.error("Home quota check of %s failed (exit %s): %s%s; spawn allowed", username, proc.returncode, reason, hint)
    return QuotaVerdict(True)
