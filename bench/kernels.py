"""Where servers and kernels run (issue 18): a kernel as a Slurm job against what it stands on.

From alice's server on the login node (place login):
- a kernel as a Slurm job (spec slurm-interactive): from the REST request that starts it to the reply to its
  first execute request, through the proxy, as JupyterLab does;
- side by side with it, started at the same instant, the same kernel by a plain `sbatch` from a kernel on that
  server: the same launcher and connection file, the same partition and size, timed from sbatch to the reply to
  its first execute request (jupyter_client's BlockingKernelClient). Side by side because slurmctld starts a
  batch job only at its next background pass, once a second (Slurm 22.05, controller.c): a job waits 0 to 1 s
  for it, which is most of the spread of either; two jobs submitted together wait for the same pass, so the
  ratio of a round compares what the two add to it. The ratio is the median of the rounds' ratios;
- a local kernel on the server (spec python3), request to first reply;
- the spawn of a whole server in the interactive partition, and on the login node (request to ready).
Every wait has a deadline.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from tests.support.docker import on
from tests.support.hubclient import HubSession, Kernel
from tests.support.waiting import wait_for

USER = "alice"
KERNEL = "slurm-interactive"
KERNEL_ROUNDS_PER_ROUND = 2  # a kernel pair takes seconds: twice the rounds of the spawns

# Run once in a local kernel of the login-node server: plain(at) submits the same kernel job as the provisioner's
# with a plain sbatch at the wall-clock time `at` (the containers share the host's clock).
PLAIN_SBATCH = """
import json, os, secrets, subprocess, time
from pathlib import Path
from jupyter_client import BlockingKernelClient
from slurm_kernel.jobs import write_connection_file, ready_connection
folder = Path.home() / ".bench-kernels"
folder.mkdir(exist_ok=True)

def plain(at):
    path = folder / f"plain-{secrets.token_hex(4)}.json"
    write_connection_file(path, secrets.token_hex(16), "hmac-sha256", "plain")
    script = f"#!/bin/bash\\nexec /opt/jupyter/bin/python3 -m slurm_kernel.launch -f {path}\\n"
    env = {k: v for k, v in os.environ.items() if k != "HPCHUB_SERVER_ONLY"}
    time.sleep(max(0.0, at - time.time()))
    started = time.monotonic()
    job = subprocess.run(["sbatch", "--parsable", "--partition=interactive", "--cpus-per-task=1", "--time=60",
                          f"--output={folder}/plain-%j.log", "--job-name=plain-kernel"], input=script, env=env,
                         capture_output=True, text=True, check=True).stdout.strip()
    while (info := ready_connection(path)) is None:
        if time.monotonic() - started > 120:
            raise TimeoutError("plain kernel job not ready in 120 s")
        time.sleep(0.02)
    client = BlockingKernelClient()
    client.load_connection_info(info)
    client.start_channels()
    client.execute_interactive("1", timeout=60)
    elapsed = time.monotonic() - started
    client.stop_channels()
    subprocess.run(["scancel", job], check=True)
    path.unlink(missing_ok=True)
    Path(f"{folder}/plain-{job}.log").unlink(missing_ok=True)
    print("RESULT", json.dumps(elapsed))
"""


def _kernel_jobs() -> list[str]:
    """The user's kernel jobs (ours and the plain ones), from Slurm as root: no kernel started to ask."""
    names = on("slurmctld", f"squeue --noheader --user={USER} --format=%j").stdout.split()
    return [name for name in names if name.startswith(("kernel-", "plain-kernel"))]


def first_reply(session: HubSession, name: str, token: str) -> float:
    """A kernel through the proxy, from the request that starts it to the reply to its first execute request."""
    started = time.monotonic()
    with session.kernel(180, name=name, server="login", token=token) as kernel:
        kernel.run("1")
        return time.monotonic() - started


def _side_by_side(session: HubSession, driver: Kernel, token: str) -> tuple[float, float]:
    """Ours and the plain sbatch, submitted at the same instant: (ours, plain) in seconds."""
    at = time.time() + 0.5
    msg_id = driver.send(f"plain({at!r})")
    time.sleep(max(0.0, at - time.time()))
    ours = first_reply(session, KERNEL, token)
    printed = driver.outcome(msg_id)
    line = next((text for text in printed.splitlines() if text.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError(f"the plain sbatch kernel printed no result:\n{printed[-2000:]}")
    return ours, float(json.loads(line.removeprefix("RESULT ")))


def spawn(session: HubSession, server: str, options: dict[str, Any]) -> float:
    started = time.monotonic()
    reply = session.api("POST", f"/users/{USER}/servers/{server}", json={"user_options": options})
    if reply.status_code not in (201, 202):
        raise RuntimeError(f"spawn of {server} refused: {reply.status_code} {reply.text[:200]}")
    wait_for(f"{server} ready", lambda: bool(servers(session).get(server, {}).get("ready")), 180, 0.1)
    return time.monotonic() - started


def servers(session: HubSession) -> dict[str, Any]:
    return dict(session.api("GET", f"/users/{USER}").json().get("servers", {}))


def stop(session: HubSession, server: str) -> None:
    session.api("DELETE", f"/users/{USER}/servers/{server}", json={"remove": True})
    wait_for(f"{server} stopped", lambda: server not in servers(session), 90, 0.1)


def measure(rounds: int, say: Callable[[str], None]) -> dict[str, Any]:
    session = HubSession(USER)
    if session.login().status_code != 200:
        raise RuntimeError(f"{USER} cannot log in")
    for server in ("login", "compute"):
        if server in servers(session):
            stop(session, server)
    others = on("slurmctld", "squeue --noheader --format='%i %u %j %N'").stdout.strip()
    if others:  # side by side only if both kernels fit at once: jobs left on the nodes make one wait for the other
        raise RuntimeError(f"the kernels benchmark needs an idle cluster; Slurm runs:\n{others}")
    samples: dict[str, list[float]] = {"kernel_job_s": [], "plain_sbatch_s": [], "local_kernel_s": [],
                                       "login_spawn_s": [], "compute_spawn_s": []}  # fmt: skip
    say(f"   {rounds} rounds: a server on the login node and on a compute node, spawned")
    for index in range(rounds):
        samples["login_spawn_s"].append(spawn(session, "login", {"place": "login", "time": 60}))
        samples["compute_spawn_s"].append(spawn(session, "compute", {"place": "interactive", "time": 20}))
        stop(session, "compute")
        if index < rounds - 1:  # the last one stays: the kernels start from it
            stop(session, "login")
    token = session.token()
    pairs = rounds * KERNEL_ROUNDS_PER_ROUND
    try:
        say(f"   {pairs} rounds: a kernel as a Slurm job beside the same kernel by a plain sbatch; a local kernel")
        with session.kernel(180, name="python3", server="login", token=token) as driver:
            driver.run(PLAIN_SBATCH)
            for _ in range(pairs):
                ours, plain = _side_by_side(session, driver, token)
                samples["kernel_job_s"].append(ours)
                samples["plain_sbatch_s"].append(plain)
                wait_for("kernel jobs gone", lambda: not _kernel_jobs(), 60, 0.1)
        for _ in range(rounds):
            samples["local_kernel_s"].append(first_reply(session, "python3", token))
    finally:
        stop(session, "login")
    medians = {name: statistics.median(values) for name, values in samples.items()}
    ratios = [ours / plain for ours, plain in zip(samples["kernel_job_s"], samples["plain_sbatch_s"], strict=True)]
    return {"samples": samples, "medians": medians, "ratios": {"kernel job / plain sbatch": statistics.median(ratios)}}
