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
    """A shell command on a container, as `user` (root by default); `login`: in bash's login shell (its PATH)."""
    shell = ["bash", "-lc"] if login else ["sh", "-c"]
    interactive = ["-i"] if stdin is not None else []
    argv = ["docker", "exec", *interactive, "-u", user, host, *shell, command]
    return subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False)
