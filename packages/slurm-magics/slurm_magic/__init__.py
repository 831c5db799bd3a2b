"""Slurm magics for IPython: `%load_ext slurm_magic` (done for every kernel of the notebook environment).

%squeue, %sinfo and %sacct return tables (pandas DataFrames: rich output in JupyterLab); %sbatch FILE and
%%sbatch (the cell is the script) submit and return the job; %scancel and %scontrol pass their arguments on.
A command that fails shows Slurm's own message. `%slurm display raw` returns the commands' text instead.
"""

from __future__ import annotations

from typing import Any

from slurm_magic.commands import SlurmError, Submitted, cancel, run_slurm, submit

__all__ = ["SlurmError", "Submitted", "cancel", "load_ipython_extension", "run_slurm", "submit"]
__version__ = "0.3.0.dev0"


def load_ipython_extension(ipython: Any) -> None:
    """Register the magics in this IPython shell."""
    from slurm_magic.magics import SlurmMagics

    ipython.register_magics(SlurmMagics(ipython))
