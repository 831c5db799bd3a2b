"""Readiness by polling with a deadline, never by sleeping a fixed time."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_for(what: str, probe: Callable[[], object], deadline_s: float, interval_s: float = 0.3) -> float:
    """Poll `probe` until it is true; return the seconds it took, or fail naming `what` at the deadline."""
    started = time.monotonic()
    while not probe():
        if time.monotonic() - started > deadline_s:
            raise AssertionError(f"{what}: not within {deadline_s:.0f} s")
        time.sleep(interval_s)
    return time.monotonic() - started
