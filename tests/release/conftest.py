"""make test-release: what a centre does with a release, against the local cluster, in order.

test_1: the last release (RELEASES) deployed from its own checkout and its own images, users' servers and a workflow
running, then this checkout's `make up` over it: an upgrade in place. test_2: `make backup`, `make clean` (every
container, volume and secret gone), `make up` of a new deployment and `make restore`.

Destructive: the local cluster is removed first (homes and secrets too); it ends restored, at this release.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.docker import ROOT

SECRETS = ROOT / "inventories/local/secrets"


@dataclass(frozen=True)
class Release:
    version: str
    commit: str
    checkout: Path


def last_release() -> Release:
    """The newest line of RELEASES: `version commit date`."""
    lines = [line.split() for line in (ROOT / "RELEASES").read_text().splitlines() if line and not line.startswith("#")]
    version, commit, _date = lines[-1]
    return Release(version, commit, ROOT / ".build" / f"release-{version}")


LAST = last_release()
THIS = (ROOT / "VERSION").read_text().strip()


@dataclass
class Story:
    """What the tests of a module saw, for the later ones (and the note's figures)."""

    figures: dict[str, float] = field(default_factory=dict)
    seen: dict[str, Any] = field(default_factory=dict)


# What make passes down (make test-release's own variables, its image tag) must not reach another checkout's make.
MAKES_OWN = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "IMAGE_TAG")


def run(command: list[str], cwd: Path = ROOT, timeout_s: float = 1800, env: dict[str, str] | None = None,
        check: bool = True) -> subprocess.CompletedProcess[str]:  # fmt: skip
    environment = {name: value for name, value in os.environ.items() if name not in MAKES_OWN}
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout_s, check=False,
                          env=dict(environment, **(env or {})))  # fmt: skip
    if check:
        assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stdout[-4000:]}\n{done.stderr[-2000:]}"
    return done


def timed_make(story: Story, name: str, *args: str, cwd: Path = ROOT, env: dict[str, str] | None = None,
               check: bool = True) -> subprocess.CompletedProcess[str]:  # fmt: skip
    started = time.monotonic()
    done = run(["make", "--no-print-directory", *args], cwd=cwd, env=env, check=check)
    story.figures[name] = round(time.monotonic() - started, 1)
    print(f"{name}: {story.figures[name]} s")
    return done


def checkout_of(release: Release) -> Path:
    """The release's own tree (a worktree at its commit), its inventory's secrets those of this checkout's."""
    known = run(["git", "cat-file", "-e", f"{release.commit}^{{commit}}"], check=False)
    if known.returncode != 0:
        pytest.fail(f"RELEASES names {release.version} as commit {release.commit}, which this clone lacks "
                    "(a shallow clone? git fetch --unshallow)")  # fmt: skip
    # A worktree, not an archive: its images' revision labels are the release's, so Docker's cache finds them.
    run(["git", "worktree", "remove", "--force", str(release.checkout)], check=False)
    shutil.rmtree(release.checkout, ignore_errors=True)
    run(["git", "worktree", "prune"])
    run(["git", "worktree", "add", "--detach", str(release.checkout), release.commit])
    SECRETS.mkdir(mode=0o700, parents=True, exist_ok=True)
    (release.checkout / "inventories/local/secrets").symlink_to(SECRETS)
    return release.checkout


def tooling_env(checkout: Path) -> dict[str, str]:
    """This checkout's .venv where the release pins the same tooling; its own (made by its make) otherwise."""
    same = (checkout / "tools/requirements.txt").read_bytes() == (ROOT / "tools/requirements.txt").read_bytes()
    return {"VENV": str(ROOT / ".venv")} if same else {}


@pytest.fixture(scope="session")
def story() -> Story:
    return Story()
