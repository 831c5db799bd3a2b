"""What every test tier shares, importable as `tests.support` (the repository root is on pytest's path).

- `docker`: one way to run `docker` and a command on a container (`on`);
- `waiting`: readiness by polling with a deadline;
- `hubclient`: a user of the hub through the proxy (also used by `make bench`);
- `cluster`: the running local deployment as tests see it (Slurm's jobs, servers, make);
- `images`, `infra`: helpers of the image and cluster tiers;
- `fake_slurm`: a small Slurm of files for the spawner's in-process tests.
"""
