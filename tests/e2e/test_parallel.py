"""Dask and IPython Parallel on Slurm from a notebook, as a user (alice, her server in the shared partition).

- `ipp.Cluster(engines="slurm", n=2)` with the site's defaults (images/notebook/ipcluster_config.py) starts two
  engines as one Slurm job spread over two nodes, in the server job's partition and account, that reach the
  controller in the kernel; `%px` runs on both. Before: engines never registered (the controller listened on
  127.0.0.1, and srun died of the server job's SLURM_* variables).
- `SLURMCluster()` with the site's defaults (roles/notebook_env, dask-hpchub.yaml, and hpchub-singleuser's
  DASK_* variables) scales to two worker jobs on both nodes, in the server job's account; its dashboard link
  is the server's proxy, which answers alice and refuses bob.
- The IPython Parallel sidebar's clusters start engines as Slurm jobs (images/notebook/jupyter_server_config.json).
- `ipp.Cluster(engines="mpi", n=2)`: the engines are one MPI world (srun with Slurm's PMIx, Open MPI, the
  mpi4py wheel) across both nodes; an allreduce of ranks gives the expected sum.
- A request Slurm refuses (an account alice lacks, more CPUs than a node has) raises within seconds with
  Slurm's message (Dask through slurm_magic.clusters.SLURMCluster).
- No orphans: when the server stops, Slurm cancels every job its kernels started for Dask and IPython
  Parallel clusters, running or pending (the wckey hpchub-<server job>, swept by the node Epilog), and
  leaves alice's plain batch job alone. That test stops the server: it runs last.
"""

from __future__ import annotations

import ast
import re

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

# Two single-CPU workers on two nodes: each job asks for a whole node's two CPUs, so the second cannot join
# the first.
START_TWO_WORKERS = """
import time, socket
from dask_jobqueue import SLURMCluster
from dask.distributed import Client
started = time.monotonic()
dask_cluster = SLURMCluster(cores=2, processes=1, job_cpu=2)
dask_cluster.scale(jobs=2)
dask_client = Client(dask_cluster)
dask_client.wait_for_workers(2, timeout=120)
print(round(time.monotonic() - started, 1))
"""


def jobs(name_prefix: str) -> list[dict[str, str]]:
    """alice's jobs whose name starts with `name_prefix`: id, name, state, account, wckey, nodes."""
    out = on("slurmctld", f"squeue --noheader --user={USER} --format='%i|%j|%T|%a|%w|%N'")
    assert out.returncode == 0, out.stderr
    rows = [dict(zip(("id", "name", "state", "account", "wckey", "nodes"), line.split("|"), strict=True))
            for line in out.stdout.splitlines() if line.strip()]  # fmt: skip
    return [row for row in rows if row["name"].startswith(name_prefix)]


def server_job() -> str:
    (job,) = [row["id"] for row in jobs(f"jupyter-{USER}")]
    return job


def test_two_slurm_engines_on_two_nodes_run_px(alice):
    with alice.kernel(timeout_s=180) as kernel:
        try:
            seconds = float(kernel.run(START_TWO_ENGINES).strip().splitlines()[-1])
            (engines,) = jobs("ipengine-")  # one Slurm job
            assert engines["wckey"] == f"hpchub-{server_job()}", engines  # ended with the server
            kernel.run("%px import socket, os; host = socket.gethostname(); account = os.environ['SLURM_JOB_ACCOUNT']")
            # The engines' job step runs under Slurm's PMIx: they are one MPI world.
            kernel.run("%px from mpi4py import MPI; world = MPI.COMM_WORLD.size")
            assert ast.literal_eval(kernel.run("print(rc[:]['world'])").strip()) == [2, 2]
            hosts = ast.literal_eval(kernel.run("print(sorted(rc[:]['host']))").strip())
            accounts = ast.literal_eval(kernel.run("print(sorted(set(rc[:]['account'])))").strip())
            assert len(set(hosts)) == 2, hosts  # one engine per node: --spread-job
            assert accounts == ["m1000"], accounts  # alice's server job's account
            assert seconds < 60, seconds
        finally:
            kernel.run("cluster.stop_cluster_sync()")
    wait_for("the engines' job to end after stop_cluster()", lambda: jobs("ipengine-") == [], 30, 0.5)


ALLREDUCE_ON_MPI_ENGINES = """
import ipyparallel as ipp, socket
mpi_cluster = ipp.Cluster(engines="mpi", n=2)
mpi_rc = mpi_cluster.start_and_connect_sync()
mpi_rc.wait_for_engines(2, timeout=90)

def rank_sum():
    from mpi4py import MPI
    import socket
    world = MPI.COMM_WORLD
    return world.rank, socket.gethostname(), world.allreduce(world.rank + 1)

print(sorted(mpi_rc[:].apply_sync(rank_sum)))
"""


def test_mpi_engines_allreduce_across_two_nodes(alice):
    """engines="mpi": one MPI world started by srun with Slurm's PMIx from the notebook (the Horovod pattern,
    without Horovod): an allreduce over ranks on both nodes."""
    with alice.kernel(timeout_s=180) as kernel:
        try:
            out = kernel.run(ALLREDUCE_ON_MPI_ENGINES).strip().splitlines()[-1]
            ranks = ast.literal_eval(out)
            assert [rank for rank, _, _ in ranks] == [0, 1], ranks
            assert len({host for _, host, _ in ranks}) == 2, ranks
            assert {total for _, _, total in ranks} == {1 + 2}, ranks
        finally:
            kernel.run("mpi_cluster.stop_cluster_sync()")


def test_the_ipython_parallel_sidebar_starts_slurm_engines(alice):
    """The sidebar's "+" (its REST API, as the sidebar calls it): engines as a Slurm job, not local processes."""
    base = f"{alice.hub}/user/{USER}/ipyparallel/clusters"
    auth = {"Authorization": f"token {alice.token()}"}
    made = alice.post(base, headers=auth, json={"n": 2}, timeout=30)
    assert made.status_code == 200, made.text[:300]
    key = made.json()["id"]
    try:
        started = alice.post(f"{base}/{key}", headers=auth, json={"n": 2}, timeout=60)
        assert started.status_code == 200, started.text[:300]
        (engines,) = jobs("ipengine-")
        assert engines["wckey"] == f"hpchub-{server_job()}" and engines["account"] == "m1000", engines
    finally:
        alice.delete(f"{base}/{key}", headers=auth, timeout=60)
    wait_for("the sidebar's engines' job to end after its stop", lambda: jobs("ipengine-") == [], 30, 0.5)


def test_dask_slurmcluster_with_site_defaults_on_two_nodes(alice, session_of):
    with alice.kernel(timeout_s=180) as kernel:
        try:
            seconds = float(kernel.run(START_TWO_WORKERS).strip().splitlines()[-1])
            workers = jobs("dask-worker")
            assert len(workers) == 2, workers
            assert {row["account"] for row in workers} == {"m1000"}, workers  # the server job's account
            assert {row["wckey"] for row in workers} == {f"hpchub-{server_job()}"}, workers
            hosts = ast.literal_eval(kernel.run("print(sorted(dask_client.run(socket.gethostname).values()))"))
            assert len(set(hosts)) == 2, hosts
            total = kernel.run("import dask.array as da; print(int(da.ones((2000, 2000), chunks=500).sum().compute()))")
            assert total.strip() == "4000000", total
            link = kernel.run("print(dask_cluster.dashboard_link)").strip()
            assert re.fullmatch(rf"/user/{USER}/proxy/\d+/status", link), link
            status = alice.server_get(link.removeprefix(f"/user/{USER}/"), timeout=30)
            assert status.status_code == 200 and "Dask" in status.text, (status.status_code, status.text[:300])
            bob = session_of("bob")
            refused = bob.get(f"{bob.hub}{link}", headers={"Authorization": f"token {bob.token()}"}, timeout=30)
            assert refused.status_code == 403, (refused.status_code, refused.text[:300])
            assert seconds < 60, seconds
        finally:
            kernel.run("dask_client.close(); dask_cluster.close()")
    wait_for("the workers' jobs to end after close()", lambda: jobs("dask-worker") == [], 30, 0.5)


REFUSED = """
import time, ipyparallel as ipp
from traitlets.config import Config
from slurm_magic.clusters import SLURMCluster, SlurmError

def refusal(start):
    began = time.monotonic()
    try:
        start()
    except Exception as error:
        return type(error).__name__, str(error).splitlines()[0], round(time.monotonic() - began, 1)
    return None

refusals = [refusal(lambda: SLURMCluster(account="m2000").scale(jobs=1)),
            refusal(lambda: SLURMCluster(cores=64).scale(jobs=1))]
other_account = Config()
other_account.SlurmLauncher.account = "m2000"
refusals.append(refusal(lambda: ipp.Cluster(engines="slurm", n=2, config=other_account).start_cluster_sync()))
print(repr(refusals))
"""


def test_a_request_slurm_refuses_fails_at_once_with_slurms_message(alice):
    """An account alice lacks, more CPUs than a node has: an exception within seconds, not a timeout. Dask through
    slurm_magic.clusters.SLURMCluster (sbatch --test-only before scaling); IPython Parallel raises by itself, with
    sbatch's message printed above the exception."""
    out = alice.run_in_kernel(REFUSED, timeout_s=120)
    (printed,) = [line for line in out.splitlines() if line.startswith("[(")]  # stderr may come after it
    dask_account, dask_cores, ipp_account = ast.literal_eval(printed)
    # hpc_slurm's SlurmRefused (a SlurmError): Slurm answered and said no, its reason after the command's name.
    assert dask_account[:2] == ("SlurmRefused", "sbatch: Invalid account or account/partition combination specified")
    assert dask_cores[:2] == ("SlurmRefused", "sbatch: Requested node configuration is not available")
    assert ipp_account[0] == "CalledProcessError", ipp_account
    assert "Batch job submission failed: Invalid account" in out, out
    assert max(seconds for *_, seconds in (dask_account, dask_cores, ipp_account)) < 10
    assert jobs("dask-worker") == [] and jobs("ipengine-") == []


def test_jobs_submitted_from_the_server_are_not_the_server(alice):
    """A plain batch job from the kernel gets none of the server's own variables (TaskProlog unsets them):
    the clusters it starts are its own, and outlive the server."""
    out = alice.run_in_kernel(
        "import os, subprocess, pathlib; log = pathlib.Path.home() / 'env-of-a-batch-job.txt'\n"
        "done = subprocess.run(['sbatch', '--wait', f'--output={log}', '--wrap', 'env | cut -d= -f1 | sort'],"
        " capture_output=True, text=True, timeout=90)\n"
        "print(done.returncode, done.stderr.strip()); print(log.read_text()); log.unlink()\n"
        "print('server:', sorted(n for n in os.environ if n.startswith(('HPCHUB_', 'DASK_'))))",
        timeout_s=120,
    )
    in_the_job = {line.strip() for line in out.split("server:")[0].splitlines()[1:]}
    assert "PATH" in in_the_job, out
    assert not {name for name in in_the_job if name.startswith(("HPCHUB_", "DASK_"))}, out
    in_the_server = ast.literal_eval(out.split("server:")[1].strip())
    assert {"HPCHUB_CLUSTER_WCKEY", "DASK_JOBQUEUE__SLURM__ACCOUNT", "HPCHUB_SERVER_ONLY"} <= set(in_the_server), out


def test_server_stop_cancels_its_clusters_jobs_only(alice):
    server = server_job()
    with alice.kernel(timeout_s=180) as kernel:
        kernel.run(START_TWO_WORKERS)
        kernel.run(START_TWO_ENGINES)
        # Pending: not before an hour from now. The user's own directives keep the tag.
        kernel.run("later = SLURMCluster(job_extra_directives=['--begin=now+3600']); later.scale(jobs=1)")
        kernel.run("import subprocess; print(subprocess.run(['sbatch', '--job-name=keep-me', '--wrap', 'sleep 600'],"
                   " capture_output=True, text=True).stdout)")  # fmt: skip
        wait_for("a pending worker job", lambda: any(r["state"] == "PENDING" for r in jobs("dask-worker")), 30, 0.5)
        tagged = [row for row in jobs("") if row["wckey"] == f"hpchub-{server}"]
        assert len(tagged) == 4, tagged  # two Dask workers, one pending, the engines' job
        (kept,) = jobs("keep-me")
        assert kept["wckey"] != f"hpchub-{server}", kept
    try:
        alice.stop()
        gone = wait_for(
            "the server's cluster jobs cancelled",
            lambda: not [row for row in jobs("") if row["wckey"] == f"hpchub-{server}"],
            30,
            0.5,
        )
        assert jobs("keep-me"), "alice's own batch job was cancelled with her server"
        print(f"cluster jobs gone {gone:.1f} s after the server stopped")
    finally:
        on("slurmctld", f"scancel --user={USER} --name=keep-me")
