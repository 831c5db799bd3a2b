"""make images on unreachable registries: one clear line, exit 1, nothing half-built left behind."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support.docker import ROOT, docker

# Closed ports on this machine: nothing listens there, so every attempt is refused at once.
DEAD_MIRROR = "http://127.0.0.1:9/debian"
DEAD_INDEX = "http://127.0.0.1:9/simple"


def build(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "tools/build_images.py"), *args],
        capture_output=True, text=True, check=False, timeout=300, env={**os.environ, **env},
    )  # fmt: skip


def test_unpullable_base_and_unreachable_debian_mirror():
    absent = "hpcjh-test/absent-base:bookworm"
    done = build("notebook", "--base-image", absent, "--debian-mirror", DEAD_MIRROR)
    assert done.returncode == 1
    assert f"cannot pull {absent}" in done.stdout
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith("error: debootstrap bookworm failed (is the Debian mirror reachable?)")
    assert docker("image", "inspect", absent, check=False).returncode != 0


def test_unreachable_python_package_index():
    done = build("hub", PIP_INDEX_URL=DEAD_INDEX)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith("error: building hpc-jupyterhub-deploy/hub:")
    assert "package registry cannot be reached" in done.stderr
