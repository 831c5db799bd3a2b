"""A job request: what a job asks of Slurm, in one type and one unit convention, and the one writer of its sbatch
options. The hub's servers (hpchub.options), the kernels (slurm_kernel.jobs), workflow steps (hpc_workflow) and
the Dask and IPython Parallel job templates of a server (hpchub-singleuser, ipcluster_config.py) use it; each adds
what is its own (job name, output, chdir).

Names are Slurm's (SLURM_NAME), sizes in MB (written 4G or 1536M), times in minutes (written HH:MM:00). Every
option is one word of known characters: an option cannot carry a second directive.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hpc_slurm.durations import format_memory

SLURM_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")  # a partition, account, QoS, reservation, wckey
_OPTION = re.compile(r"^--[a-z-]+=[A-Za-z0-9_.:-]+$")
_NAMES = ("partition", "account", "qos", "reservation", "wckey")
_COUNTS = {"nodes": 1, "cpus": 1, "memory_mb": 1, "time_minutes": 1, "gpus": 0}  # field -> its least value


class FieldError(ValueError):
    """A refused value: `field` names it, `message` says why in words for the user."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


class JobRequestError(FieldError):
    """A value Slurm must not be given."""


@dataclass(frozen=True)
class JobRequest:
    """What one job asks of Slurm; "" and None leave the choice to Slurm (the partition's defaults)."""

    partition: str = ""
    account: str = ""
    qos: str = ""
    nodes: int | None = None
    cpus: int | None = None  # per task
    memory_mb: int | None = None  # per node
    time_minutes: int | None = None
    gpus: int = 0  # per node
    reservation: str = ""
    wckey: str = ""

    def problems(self) -> list[str]:
        """What is wrong with these values, in words (empty when they can be submitted)."""
        wrong = [f"{name} {getattr(self, name)!r} is not a Slurm name" for name in _NAMES
                 if getattr(self, name) and not SLURM_NAME.match(getattr(self, name))]  # fmt: skip
        for name, low in _COUNTS.items():
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or not low <= value <= 100_000_000):  # fmt: skip
                wrong.append(f"{name} {value!r} is out of range")
        return wrong

    def sbatch_options(self) -> list[str]:
        """sbatch's options for this request, in a fixed order; JobRequestError naming a field Slurm must not get."""
        for problem in self.problems():
            raise JobRequestError(problem.split(" ", 1)[0], problem)
        options = [f"--{name}={getattr(self, name)}" for name in ("partition", "account", "qos") if getattr(self, name)]
        if self.nodes is not None:
            options.append(f"--nodes={self.nodes}")
        if self.cpus is not None:
            options.append(f"--cpus-per-task={self.cpus}")
        if self.memory_mb is not None:
            options.append(f"--mem={format_memory(self.memory_mb)}")
        if self.time_minutes is not None:
            hours, minutes = divmod(self.time_minutes, 60)
            options.append(f"--time={hours:02d}:{minutes:02d}:00")
        if self.gpus:
            options.append(f"--gpus-per-node={self.gpus}")
        options += [f"--{name}={getattr(self, name)}" for name in ("reservation", "wckey") if getattr(self, name)]
        for option in options:  # defence in depth: one word of known characters each
            if not _OPTION.match(option):
                raise JobRequestError(option[2:].split("=", 1)[0], "unsafe value")
        return options

    def directives(self) -> list[str]:
        """The same options as #SBATCH lines of a batch script."""
        return [f"#SBATCH {option}" for option in self.sbatch_options()]
