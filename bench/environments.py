"""Users' environments (issue 32), each against the default it stands beside, in alternate rounds (so that a slow
moment of the machine weighs on both):

- a server in the interactive partition started in the site environment numpy1 (its prefix on the shared software
  filesystem, `module load hpc-defaults/1.0` first) against one in the default environment (the image's
  /opt/jupyter): request to ready;
- on a login-node server: R as a kernel on a compute node (slurm-interactive-r, IRkernel under our launcher)
  against Python's (slurm-interactive); R as a local kernel (ir) and a kernel that loads a module first
  (python3-numpy1) against the local Python kernel (python3): request to the reply to the first execute request;
- the disk an environment costs: numpy1's prefix (once, on the shared filesystem, for every node) and R with its
  packages (on each node; not the shared libraries it uses).
Every wait has a deadline.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

from bench.kernels import USER, first_reply, servers, spawn, stop
from tests.support.docker import on
from tests.support.hubclient import HubSession
from tests.support.waiting import wait_for

NUMPY1 = "/global/common/software/jupyter/numpy1"
# Kernels on the login-node server: (what is measured, what it stands beside).
KERNEL_PAIRS = {
    "R kernel on a compute node / Python's": ("slurm-interactive-r", "slurm-interactive"),
    "R kernel on the server / Python's": ("ir", "python3"),
    "module kernel (python3-numpy1) / python3": ("python3-numpy1", "python3"),
}


def _disk_mb(host: str, command: str) -> float:
    out = on(host, command)
    if out.returncode != 0:
        raise RuntimeError(f"{command} on {host}: {out.stderr[-500:]}")
    return float(out.stdout.split()[0]) / 1024


def measure(rounds: int, say: Callable[[str], None]) -> dict[str, Any]:
    session = HubSession(USER)
    if session.login().status_code != 200:
        raise RuntimeError(f"{USER} cannot log in")
    for server in ("login", "default", "numpy1"):
        if server in servers(session):
            stop(session, server)
    samples: dict[str, list[float]] = {"default_spawn_s": [], "numpy1_spawn_s": []}
    say(f"   {rounds} rounds: a server in the default environment, then one in numpy1 (interactive)")
    for _ in range(rounds):
        for environment in ("default", "numpy1"):
            options = {"place": "interactive", "environment": environment, "time": 20}
            samples[f"{environment}_spawn_s"].append(spawn(session, environment, options))
            stop(session, environment)
    spawn(session, "login", {"place": "login", "time": 60})
    token = session.token()
    try:
        say(f"   {rounds} rounds of kernels on the login-node server: " + ", ".join(KERNEL_PAIRS))
        for _ in range(rounds):
            for name in dict.fromkeys(kernel for pair in KERNEL_PAIRS.values() for kernel in pair):
                samples.setdefault(f"{name}_s", []).append(first_reply(session, name, token))
                wait_for("kernel jobs gone", lambda: "kernel-" not in on(
                    "slurmctld", f"squeue --noheader --user={USER} --format=%j").stdout, 60, 0.1)  # fmt: skip
    finally:
        stop(session, "login")
    medians = {name: statistics.median(values) for name, values in samples.items()}
    ratios = {"server in numpy1 / in default": medians["numpy1_spawn_s"] / medians["default_spawn_s"]}
    ratios |= {label: medians[f"{ours}_s"] / medians[f"{theirs}_s"] for label, (ours, theirs) in KERNEL_PAIRS.items()}
    disk = {
        "numpy1 prefix, once on the shared filesystem (MB)": _disk_mb("login", f"du -sk {NUMPY1}"),
        "R and its packages (/usr/lib/R, /usr/share/R), on each node (MB)": _disk_mb(
            "c1", "du -skc /usr/lib/R /usr/share/R | tail -1"),
    }  # fmt: skip
    return {"samples": samples, "medians": medians, "ratios": ratios, "disk_mb": disk}
