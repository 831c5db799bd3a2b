"""The one Slurm layer of hpc-jupyterhub-deploy: what the hub and the notebook side both need of Slurm.

- `command`: running a Slurm command (one timeout policy; "not answering" apart from "refused").
- `durations`: Slurm's time forms and its words for "no limit"; sizes in Slurm's units.
- `states`: job states, and which of them mean a job is still active or may still answer.
"""

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
