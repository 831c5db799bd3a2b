"""Jupyter kernels as Slurm jobs: the notebook stays on the user's server, its kernel runs on a compute node."""

__version__ = "0.3.0.dev0"
