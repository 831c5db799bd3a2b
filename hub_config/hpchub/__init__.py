"""The hub's own classes: spawn options, Slurm limits, the spawner and its checks."""
