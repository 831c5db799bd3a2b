"""Spawn latency, request to ready: our spawner, stock batchspawner on the same hub, and the floor (the same
JupyterLab started by a plain `srun` and polled until it answers, no hub). A fourth reference starts the
same JupyterLab by a plain `sbatch`: Slurm schedules batch jobs in its once-a-second background pass, while
srun's allocation is granted in the request itself, so that row splits the gap to the floor into Slurm's
batch path and the hub's own cost. Rounds interleave the four."""

from __future__ import annotations

import time
from typing import Any

from tests.support.docker import on
from tests.support.hubclient import as_service

USER = "alice"
OPTIONS = {"partition": "debug", "account": "m1000", "cpus": "1", "memory": "1024", "time": "30"}

# Run on the login node as the user: start the server, learn the node's name, poll until it answers.
FLOOR_START = {
    "srun": r"""
job = subprocess.Popen(
    ["srun", "--partition=debug", "--account=m1000", "--cpus-per-task=1", "--mem=1024M", "--time=5",
     "--unbuffered", "bash", "-c", f"hostname; exec {server} >/dev/null 2>&1"],
    stdout=subprocess.PIPE, text=True)
host = job.stdout.readline().strip()
stop = lambda: (job.terminate(), job.wait(30))
""",
    "sbatch": r"""
where = os.path.expanduser(f"~/.bench-floor-{port}")
job = subprocess.run(
    ["sbatch", "--parsable", "--partition=debug", "--account=m1000", "--cpus-per-task=1", "--mem=1024M",
     "--time=5", "--output=/dev/null", f"--wrap=hostname > {where}.tmp && mv {where}.tmp {where}; exec {server}"],
    capture_output=True, text=True, check=True).stdout.strip()
while not os.path.exists(where):
    if time.monotonic() - started > 60:
        sys.exit("the batch job did not start in 60 s")
    time.sleep(0.01)
host = open(where).read().strip()
os.unlink(where)
stop = lambda: subprocess.run(["scancel", job], check=True)
""",
}
FLOOR = r"""
import os, random, subprocess, sys, time, urllib.request
port = random.randint(33000, 60000)  # not in the range of the hub's servers (hpchub-singleuser: 20000-32767)
server = (f"jupyter lab --no-browser --ip=0.0.0.0 --port={port} --ServerApp.port_retries=0 --ServerApp.token= "
          "--ServerApp.base_url=/floor/")
started = time.monotonic()
{start}
while time.monotonic() - started < 60:
    try:
        urllib.request.urlopen(f"http://{host}:{port}/floor/api", timeout=1)
        break
    except OSError:
        time.sleep(0.02)
else:
    sys.exit("no answer in 60 s")
print(round(time.monotonic() - started, 3))
stop()
"""


def start_through_hub(extra: dict[str, str] | None = None, deadline_s: float = 120) -> float:
    """Ask the hub for USER's server and wait until it is ready; the seconds that took."""
    started = time.monotonic()
    reply = as_service("POST", f"/users/{USER}/server", json={**OPTIONS, **(extra or {})})
    if reply.status_code not in (201, 202):
        raise RuntimeError(f"spawn refused: {reply.status_code} {reply.text[:200]}")
    while not as_service("GET", f"/users/{USER}").json()["servers"].get("", {}).get("ready"):
        if time.monotonic() - started > deadline_s:
            raise TimeoutError(f"{USER}'s server not ready in {deadline_s} s")
        time.sleep(0.05)
    return time.monotonic() - started


def spawn_through_hub(extra: dict[str, str]) -> float:
    elapsed = start_through_hub(extra)
    stop_through_hub()
    return elapsed


def stop_through_hub(deadline_s: float = 60) -> None:
    as_service("DELETE", f"/users/{USER}/server")
    started = time.monotonic()
    while as_service("GET", f"/users/{USER}").json()["servers"]:
        if time.monotonic() - started > deadline_s:
            raise TimeoutError(f"{USER}'s server not stopped in {deadline_s} s")
        time.sleep(0.2)


def floor(launcher: str = "srun", log: Any = print) -> float:
    """One reference start; a start that failed (its random port taken, say) is tried once more, and said."""
    for attempt in (1, 2):
        script = FLOOR.replace("{start}", FLOOR_START[launcher])
        done = on("login", "/opt/jupyter/bin/python3 -", user=USER, stdin=script, login=True)
        if done.returncode == 0:
            return float(done.stdout.split()[-1])
        if attempt == 1:
            log(f"  {launcher} floor run failed ({done.stderr.strip()[-120:]}): trying once more")
    raise RuntimeError(f"floor run failed twice: {done.stderr.strip()[-300:]}")


def measure(rounds: int, log: Any = print) -> dict[str, list[float]]:
    if as_service("GET", f"/users/{USER}").json()["servers"]:
        stop_through_hub()
    samples: dict[str, list[float]] = {
        "ours": [], "stock batchspawner": [], "floor (srun, no hub)": [], "sbatch, no hub": []
    }  # fmt: skip
    for number in range(1, rounds + 1):
        samples["ours"].append(spawn_through_hub({}))
        samples["stock batchspawner"].append(spawn_through_hub({"bench_profile": "stock"}))
        samples["floor (srun, no hub)"].append(floor("srun", log))
        samples["sbatch, no hub"].append(floor("sbatch", log))
        log(f"  round {number}/{rounds}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in samples.items()))
    return samples
