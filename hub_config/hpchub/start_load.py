"""How often a starting server's job is checked when many start at once.

Each pending start asks Slurm about its job (a sudo and an squeue: ~13 ms of the hub's CPU) and probes the
new server's port. With 50 starts at once, fixed intervals cost a third of a 2-core machine and slowed
the very starts they watched. Past `step` concurrent starts, every interval grows in proportion.
"""

from __future__ import annotations


class StartLoad:
    """A count of the servers starting now, shared by the hub's spawners."""

    def __init__(self, step: int = 5) -> None:
        self.step = max(1, step)
        self.starting = 0

    def __enter__(self) -> StartLoad:
        self.starting += 1
        return self

    def __exit__(self, *_: object) -> None:
        self.starting -= 1

    def interval(self, base: float) -> float:
        """`base` while up to `step` servers start; with N > step starting, base * N / step."""
        return base * max(1.0, self.starting / self.step)
