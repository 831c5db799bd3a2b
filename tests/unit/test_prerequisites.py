"""tools/prerequisites.sh refuses clearly where it cannot act (no Docker access, not root)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root to act as another user")
def test_not_root_and_no_docker_is_one_clear_line():
    # A copy readable by `nobody`, who can use no Docker socket and install nothing.
    with tempfile.TemporaryDirectory() as tmp:
        run_as_nobody(Path(tmp))


def run_as_nobody(tmp_path: Path) -> None:
    (tmp_path / "tools").mkdir()
    for name in ("prerequisites.sh", "requirements.txt"):
        shutil.copy(ROOT / "tools" / name, tmp_path / "tools" / name)
    tmp_path.chmod(0o755)
    (tmp_path / "tools").chmod(0o755)
    done = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
         "env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/nonexistent",
         "bash", str(tmp_path / "tools/prerequisites.sh")],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: ")
    assert "root" in done.stderr
