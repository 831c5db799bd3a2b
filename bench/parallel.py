"""Dask, IPython Parallel and MPI from a notebook, side by side with what they stand on (issue 16).

From one kernel of a user's server (interactive partition, so worker jobs run beside it on both nodes):
- start-up: `SLURMCluster.scale(jobs=2)` until two workers are connected, against the same worker job script
  (`cluster.job_script()`) submitted twice with a plain `sbatch`; `ipp.Cluster(engines="slurm")`'s
  `start_engines(n=2)` until two engines registered, against a plain `sbatch` of the batch file it wrote.
  Rounds interleave the two of each.
- task throughput: 2,000 no-op tasks through Dask and through IPython Parallel (a load-balanced view) on two
  workers on other nodes' jobs, against a LocalCluster / local engines with two workers in the server's job.
- MPI: the mean latency of an 8-byte `allreduce` over two ranks on two nodes, measured inside the program,
  from the notebook (`engines="mpi"`, the function run on the engines) and the same program under
  `srun --mpi=pmix` from a login shell.
Every wait has a deadline (a stuck round fails the run instead of hanging it).
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable
from typing import Any

from tests.support.docker import on
from tests.support.hubclient import HubSession

USER = "alice"
OPTIONS = {"partition": "interactive", "account": "m1000", "cpus": "1", "memory": "2048", "time": "60"}
TASKS = 2000

ALLREDUCE = """
def allreduce_latency_us(repeats=2000):
    from mpi4py import MPI
    world = MPI.COMM_WORLD
    for _ in range(200):
        world.allreduce(1)
    world.Barrier()
    started = MPI.Wtime()
    for _ in range(repeats):
        world.allreduce(1)
    return world.allreduce((MPI.Wtime() - started) / repeats * 1e6, op=MPI.MAX)
"""

PROGRAM = (
    """
import json, os, subprocess, time
from dask.distributed import Client, LocalCluster
from dask_jobqueue import SLURMCluster
import ipyparallel as ipp

ROUNDS, TASKS = {rounds}, {tasks}
out = {{"dask_scale": [], "dask_sbatch": [], "ipp_start": [], "ipp_sbatch": [],
        "dask_remote_tps": [], "dask_local_tps": [], "ipp_remote_tps": [], "ipp_local_tps": [], "mpi_notebook_us": []}}

def until(what, done, deadline_s=120):
    ends = time.monotonic() + deadline_s
    while not done():
        if time.monotonic() > ends:
            raise TimeoutError(what)
        time.sleep(0.05)

def jobs_named(name):
    listed = subprocess.run(["squeue", "--me", "--noheader", "--name", name, "--format=%i"],
                            capture_output=True, text=True).stdout.split()
    return listed

def noop(x):
    return x

def tasks_per_s(run):
    started = time.monotonic()
    run()
    return TASKS / (time.monotonic() - started)

# Dask
cluster = SLURMCluster(cores=1, processes=1)
client = Client(cluster)
n_workers = lambda: len(client.scheduler_info()["workers"])
for i in range(ROUNDS):
    started = time.monotonic()
    cluster.scale(jobs=2)
    client.wait_for_workers(2, timeout=120)
    out["dask_scale"].append(time.monotonic() - started)
    if i == 0:
        remote = lambda: client.gather(client.map(noop, range(TASKS), pure=False))
        out["dask_remote_tps"] += [tasks_per_s(remote) for _ in range(3)]
    cluster.scale(0)
    until("dask workers gone", lambda: n_workers() == 0 and not jobs_named("dask-worker"))
    script = cluster.job_script()
    started = time.monotonic()
    plain = [subprocess.run(["sbatch", "--parsable"], input=script.replace("dummy-name", f"plain-{{i}}-{{k}}"),
                            capture_output=True, text=True, check=True).stdout.strip() for k in range(2)]
    client.wait_for_workers(2, timeout=120)
    out["dask_sbatch"].append(time.monotonic() - started)
    subprocess.run(["scancel", *plain], check=True)
    until("plain dask workers gone", lambda: n_workers() == 0 and not jobs_named("dask-worker"))
client.close(); cluster.close()
with LocalCluster(n_workers=2, threads_per_worker=1, processes=True) as local, Client(local) as near:
    for _ in range(3):
        out["dask_local_tps"].append(tasks_per_s(lambda: near.gather(near.map(noop, range(TASKS), pure=False))))

# IPython Parallel
cluster = ipp.Cluster(engines="slurm", n=2)
cluster.start_controller_sync()
rc = cluster.connect_client_sync()
for i in range(ROUNDS):
    before = set(rc.ids)
    started = time.monotonic()
    cluster.start_engines_sync(n=2)
    until("two engines", lambda: len(set(rc.ids) - before) >= 2)
    out["ipp_start"].append(time.monotonic() - started)
    engines = next(iter(cluster.engines.values()))
    batch_file, env = engines.batch_file, {{**os.environ, **engines.get_env()}}
    if i == 0:
        view = rc.load_balanced_view(targets=sorted(set(rc.ids) - before))
        for _ in range(3):
            out["ipp_remote_tps"].append(tasks_per_s(lambda: view.map_sync(noop, range(TASKS))))
    cluster.stop_engines_sync()
    until("engine jobs gone", lambda: not jobs_named(f"ipengine-{{cluster.cluster_id}}"))
    before = set(rc.ids)
    started = time.monotonic()
    plain = subprocess.run(["sbatch", "--parsable", batch_file], env=env, capture_output=True, text=True,
                           check=True).stdout.strip()
    until("two engines from sbatch", lambda: len(set(rc.ids) - before) >= 2)
    out["ipp_sbatch"].append(time.monotonic() - started)
    subprocess.run(["scancel", plain], check=True)
    until("plain engine job gone", lambda: not jobs_named(f"ipengine-{{cluster.cluster_id}}"))
cluster.stop_cluster_sync()
local = ipp.Cluster(engines="local", n=2)
lrc = local.start_and_connect_sync()
lrc.wait_for_engines(2, timeout=60)
view = lrc.load_balanced_view()
for _ in range(3):
    out["ipp_local_tps"].append(tasks_per_s(lambda: view.map_sync(noop, range(TASKS))))
local.stop_cluster_sync()

# MPI from the notebook: engines as one MPI world across both nodes
"""
    + ALLREDUCE
    + """
mpi = ipp.Cluster(engines="mpi", n=2)
mrc = mpi.start_and_connect_sync()
mrc.wait_for_engines(2, timeout=90)
for _ in range(ROUNDS):
    out["mpi_notebook_us"].append(max(mrc[:].apply_sync(allreduce_latency_us)))
mpi.stop_cluster_sync()
print("RESULT " + json.dumps(out))
"""
)

# The same allreduce under srun from a login shell (the user's, on the login node).
LOGIN_PROGRAM = ALLREDUCE + "\nprint(allreduce_latency_us())\n"


def mpi_from_login(rounds: int) -> list[float]:
    values = []
    for _ in range(rounds):
        done = on("login", "cat > ~/.bench-allreduce.py && srun --mpi=pmix --partition=interactive --account=m1000 "
                  "--nodes=2 --ntasks=2 --time=5 python3 ~/.bench-allreduce.py", user=USER, stdin=LOGIN_PROGRAM,
                  login=True)  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"srun from the login node failed: {done.stderr[-500:]}")
        values.append(max(float(line) for line in done.stdout.split()))
    return values


def median(values: list[float]) -> float:
    return statistics.median(values)


def measure(rounds: int, say: Callable[[str], None]) -> dict[str, Any]:
    session = HubSession(USER)
    if session.login().status_code != 200:
        raise RuntimeError(f"{USER} cannot log in")
    if session.server():
        session.stop()
    reply = session.api("POST", f"/users/{USER}/server", json=OPTIONS)
    if reply.status_code not in (201, 202):
        raise RuntimeError(f"spawn refused: {reply.status_code} {reply.text[:200]}")
    session.wait_ready(120)
    try:
        say(f"   {rounds} rounds of Dask and IPython Parallel start-up, throughput, MPI from the notebook")
        printed = session.run_in_kernel(PROGRAM.format(rounds=rounds, tasks=TASKS), timeout_s=900)
        line = next((text for text in printed.splitlines() if text.startswith("RESULT ")), None)
        if line is None:
            raise RuntimeError(f"the benchmark's kernel printed no result:\n{printed[-2000:]}")
        samples: dict[str, list[float]] = json.loads(line.removeprefix("RESULT "))
    finally:
        session.stop(deadline_s=90)
    say("   the same allreduce under srun from a login shell")
    samples["mpi_login_us"] = mpi_from_login(rounds)
    medians = {name: median(values) for name, values in samples.items()}
    return {
        "samples": samples,
        "medians": medians,
        "ratios": {
            "dask scale / sbatch": medians["dask_scale"] / medians["dask_sbatch"],
            "ipp start / sbatch": medians["ipp_start"] / medians["ipp_sbatch"],
            "dask remote / local tasks/s": medians["dask_remote_tps"] / medians["dask_local_tps"],
            "ipp remote / local tasks/s": medians["ipp_remote_tps"] / medians["ipp_local_tps"],
            "mpi notebook / login": medians["mpi_notebook_us"] / medians["mpi_login_us"],
        },
    }
