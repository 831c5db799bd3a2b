"""hubtraf-style load: K simulated users (bench01..benchK) each log in through the form, spawn, run a cell in
a kernel over websocket, and stop; they arrive `ramp_s` apart. Every phase has a deadline, so a run ends."""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench.cluster import CpuMeter, machine_cpu_seconds
from bench.stats import summary
from tests.support.hubclient import HubSession

OPTIONS = {"partition": "interactive", "account": "m1000", "cpus": "1", "memory": "200", "time": "20"}
PHASES = ("login", "spawn", "kernel", "stop")


def one_user(name: str, delay_s: float) -> dict[str, Any]:
    time.sleep(delay_s)
    result: dict[str, Any] = {"user": name}
    session = HubSession(name)
    phase = "login"
    try:
        started = time.monotonic()
        if session.login().status_code != 200:
            raise RuntimeError("login refused")
        result["login"] = time.monotonic() - started
        phase, started = "spawn", time.monotonic()
        reply = session.api("POST", f"/users/{name}/server", json=OPTIONS)
        if reply.status_code not in (201, 202):
            raise RuntimeError(f"spawn refused: {reply.status_code} {reply.text[:120]}")
        session.wait_ready(120)
        result["spawn"] = time.monotonic() - started
        phase, started = "kernel", time.monotonic()
        if session.run_in_kernel("print(6 * 7)", timeout_s=90).strip() != "42":
            raise RuntimeError("the cell printed something else")
        result["kernel"] = time.monotonic() - started
        phase, started = "stop", time.monotonic()
        session.stop(deadline_s=90)
        result["stop"] = time.monotonic() - started
    except Exception as error:  # a failed user is counted, not fatal: the run goes on
        result["error"] = f"{phase}: {type(error).__name__}: {error}"[:300]
        with contextlib.suppress(Exception):  # best-effort clean-up
            session.api("DELETE", f"/users/{name}/server")
    finally:
        session.close()
    return result


def run(users: int, ramp_s_per_user: float = 0.5) -> dict[str, Any]:
    hub = CpuMeter("jupyterhub")
    samples: list[tuple[float, float]] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(1.0):
            samples.append((hub.cpu_seconds(), hub.memory_mb()))

    cpu_before, machine_before, started = hub.cpu_seconds(), machine_cpu_seconds(), time.monotonic()
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    names = [f"bench{number:02d}" for number in range(1, users + 1)]
    with ThreadPoolExecutor(max_workers=users) as pool:
        results = list(pool.map(one_user, names, [i * ramp_s_per_user for i in range(users)]))
    stop.set()
    sampler.join()
    wall = time.monotonic() - started
    cpu_used = hub.cpu_seconds() - cpu_before
    machine_used = machine_cpu_seconds() - machine_before
    failures = [r for r in results if "error" in r]
    return {
        "users": users,
        "ok": users - len(failures),
        "failures": [f"{r['user']}: {r['error']}" for r in failures],
        "phases": {phase: summary([r[phase] for r in results if phase in r]) for phase in PHASES},
        "wall_s": wall,
        "hub_cpu_mean_pct": 100 * cpu_used / wall,
        "hub_cpu_peak_pct": max((100 * (b[0] - a[0]) for a, b in itertools.pairwise(samples)), default=0),
        "hub_mem_peak_mb": max((m for _, m in samples), default=hub.memory_mb()),
        # What one user's login, spawn, cell and stop cost the whole machine: with C cores, K users need at
        # least K * this / C seconds, however the work is scheduled.
        "machine_cpu_s_per_user": machine_used / users,
        "hub_cpu_s_per_user": cpu_used / users,
    }
