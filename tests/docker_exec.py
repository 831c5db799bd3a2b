"""Commands on the local cluster's hosts (containers), as the operator runs them."""

from __future__ import annotations

import subprocess


def on(host: str, command: str) -> subprocess.CompletedProcess[str]:
    """A shell command on a cluster host, as root."""
    return subprocess.run(["docker", "exec", host, "sh", "-c", command], capture_output=True, text=True, check=False)
