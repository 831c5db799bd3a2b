"""The one way tests and benchmarks run `docker`, and a command on one of the project's containers."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def docker(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """`docker ARGS`, its output captured; raises on failure when `check`."""
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check)


def on(
    host: str, command: str, *, user: str = "root", stdin: str | None = None, login: bool = False
) -> subprocess.CompletedProcess[str]:
    """A shell command on a container, as `user` (root by default); `login`: in bash's login shell (its PATH).

    A user is switched to by runuser, which resolves them through NSS (SSSD: the directory's users), not by
    `docker exec -u`, which reads only the container's /etc/passwd."""
    shell = ["bash", "-lc"] if login else ["sh", "-c"]
    interactive = ["-i"] if stdin is not None else []
    as_user = [] if user == "root" else ["runuser", "-u", user, "--"]
    argv = ["docker", "exec", *interactive, host, *as_user, *shell, command]
    return subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False)
