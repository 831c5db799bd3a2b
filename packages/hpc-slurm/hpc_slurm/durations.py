"""Slurm's durations and sizes, read one way everywhere.

Durations are Slurm's time forms (sbatch --time, sinfo's TimeLimit, squeue's TimeLeft, sacctmgr's MaxWall):
M, M:S, H:M:S, D-H, D-H:M, D-H:M:S. Slurm's words for "no limit" (`NO_LIMIT`, any case) read as None.
Sizes are Slurm's memory units: a number with K, M (the default), G or T, powers of 1024, read as megabytes.
"""

from __future__ import annotations

import re

NO_LIMIT = frozenset({"UNLIMITED", "INFINITE", "NOT_SET", "INVALID", "PARTITION_LIMIT"})
_NUMBER = re.compile(r"^\d{1,9}$")
_SIZE = re.compile(r"^(\d{1,9})\s*([KMGT]?)B?$", re.IGNORECASE)
_MB_PER_UNIT = {"K": 1 / 1024, "": 1, "M": 1, "G": 1024, "T": 1024 * 1024}


class DurationError(ValueError):
    """Not one of Slurm's time or size forms; the message says which forms are."""


def parse_seconds(text: str) -> int | None:
    """A Slurm duration -> seconds; None for Slurm's words for no limit."""
    text = text.strip()
    if text.upper() in NO_LIMIT:
        return None
    days_text, dash, rest = text.partition("-")
    if not dash:
        days_text, rest = "0", text
    parts = rest.split(":")
    if not _NUMBER.match(days_text) or len(parts) > 3 or not all(_NUMBER.match(part) for part in parts):
        raise DurationError(f"{text[:40]!r} is not a duration: minutes, MM:SS, HH:MM:SS or D-HH:MM:SS")
    numbers = [int(part) for part in parts]
    if dash:  # D-H, D-H:M, D-H:M:S
        hours, minutes, seconds = [*numbers, 0, 0][:3]
    else:  # M, M:S, H:M:S
        hours, minutes, seconds = {1: [0, *numbers, 0], 2: [0, *numbers], 3: numbers}[len(numbers)]
    return ((int(days_text) * 24 + hours) * 60 + minutes) * 60 + seconds


def parse_minutes(text: str) -> int | None:
    """A Slurm duration -> minutes, a part of a minute rounding up (as Slurm does); None for no limit."""
    seconds = parse_seconds(text)
    return None if seconds is None else -(-seconds // 60)


def parse_memory_mb(text: str) -> int:
    """A Slurm size ('4096', '4096M', '4G', '1T', '512K') -> megabytes (a part of one rounds up)."""
    match = _SIZE.match(text.strip())
    if not match:
        raise DurationError(f"{text[:40]!r} is not a size such as 4096M or 4G")
    number, unit = int(match.group(1)), match.group(2).upper()
    return int(-(-number * _MB_PER_UNIT[unit] // 1))


def format_memory(megabytes: int) -> str:
    """Megabytes as Slurm's shortest exact size: 4096 -> '4G', 1536 -> '1536M'."""
    return f"{megabytes // 1024}G" if megabytes and megabytes % 1024 == 0 else f"{megabytes}M"
