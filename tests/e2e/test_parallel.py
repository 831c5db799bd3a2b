"""IPython Parallel on Slurm from a notebook, as a user: `ipp.Cluster(engines="slurm", n=2)` with the site's
defaults (images/notebook/ipcluster_config.py) starts two engines as one Slurm job spread over two nodes,
in the server job's partition and account, that reach the controller in the kernel; `%px` runs on both.
Before: engines never registered (the controller listened on 127.0.0.1, and srun died of the server job's
SLURM_* variables)."""

from __future__ import annotations

import ast

from tests.support.docker import on
from tests.support.waiting import wait_for

USER = "alice"

START_TWO_ENGINES = """
import ipyparallel as ipp, time
started = time.monotonic()
cluster = ipp.Cluster(engines="slurm", n=2)
rc = cluster.start_and_connect_sync(activate=True)
rc.wait_for_engines(2, timeout=120)
print(round(time.monotonic() - started, 1))
"""


def engine_jobs() -> list[str]:
    out = on("slurmctld", f"squeue --noheader --user={USER} --format='%i %j'")
    assert out.returncode == 0, out.stderr
    return [line.split()[0] for line in out.stdout.splitlines() if " ipengine-" in line]


def test_two_slurm_engines_on_two_nodes_run_px(alice):
    with alice.kernel(timeout_s=180) as kernel:
        try:
            seconds = float(kernel.run(START_TWO_ENGINES).strip().splitlines()[-1])
            assert len(engine_jobs()) == 1, "the engines are not one Slurm job"
            kernel.run("%px import socket, os; host = socket.gethostname(); account = os.environ['SLURM_JOB_ACCOUNT']")
            hosts = ast.literal_eval(kernel.run("print(sorted(rc[:]['host']))").strip())
            accounts = ast.literal_eval(kernel.run("print(sorted(set(rc[:]['account'])))").strip())
            assert len(set(hosts)) == 2, hosts  # one engine per node: --spread-job
            assert accounts == ["m1000"], accounts  # alice's server job's account
            assert seconds < 60, seconds
        finally:
            kernel.run("cluster.stop_cluster_sync()")
    wait_for("the engines' job to end after stop_cluster()", lambda: engine_jobs() == [], 30, 0.5)
