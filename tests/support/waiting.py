"""Readiness by polling with a deadline, never by sleeping a fixed time."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_for(what: str, probe: Callable[[], bool], deadline_s: float, interval_s: float = 0.3) -> None:
    """Poll `probe` until it is true; fail naming `what` when the deadline passes."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if probe():
            return
        time.sleep(interval_s)
    raise AssertionError(f"{what}: not within {deadline_s:.0f} s")
