"""The one Slurm layer of hpc-jupyterhub-deploy: what the hub and the notebook side both need of Slurm.

- `command`: running a Slurm command (one timeout policy; "not answering" apart from "refused").
- `durations`: Slurm's time forms and its words for "no limit"; sizes in Slurm's units.
- `states`: job states, and which of them mean a job is still active or may still answer.
- `jobs`: a job request, and the one writer of its sbatch options.
- `contract`: the names the hub, a user's server, its kernels and the node scripts share.
- `modules`: environment modules (Lmod) loaded before a server's or a kernel's command.

Names are loaded on first use (PEP 562): the server's launcher imports `hpc_slurm.contract` alone, without the
runner's asyncio and subprocess (part of every spawn's start-up).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hpc_slurm.command import (
        Answer,
        SlurmError,
        SlurmNotAnswering,
        SlurmRefused,
        arun,
        default_timeout,
        error_from,
        run,
        run_answer,
    )
    from hpc_slurm.durations import DurationError, parse_memory_mb, parse_minutes, parse_seconds

_MODULE = {
    **dict.fromkeys(("Answer", "SlurmError", "SlurmNotAnswering", "SlurmRefused", "arun", "default_timeout",
                     "error_from", "run", "run_answer"), "command"),
    **dict.fromkeys(("DurationError", "parse_memory_mb", "parse_minutes", "parse_seconds"), "durations"),
}  # fmt: skip
__all__ = [
    "Answer",
    "DurationError",
    "SlurmError",
    "SlurmNotAnswering",
    "SlurmRefused",
    "arun",
    "default_timeout",
    "error_from",
    "parse_memory_mb",
    "parse_minutes",
    "parse_seconds",
    "run",
    "run_answer",
]


def __getattr__(name: str) -> Any:
    if name not in _MODULE:
        raise AttributeError(f"module 'hpc_slurm' has no attribute {name!r}")
    value = getattr(import_module(f"hpc_slurm.{_MODULE[name]}"), name)
    globals()[name] = value
    return value
