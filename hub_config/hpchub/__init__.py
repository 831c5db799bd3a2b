"""The hub's own classes for hpc-jupyterhub-deploy: Slurm spawner, typed spawn options, proxy watch."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("hpchub")
except PackageNotFoundError:  # run from a source tree that was not installed
    __version__ = "0+unknown"
