"""Requests per second and p95 latency to a user's server through the proxy (HTTPS), against the same requests sent
straight to the server (its node's address on the cluster network). Bounded in count and in time."""

from __future__ import annotations

import itertools
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

from bench.cluster import ROOT, container_ip
from bench.spawn_latency import USER, start_through_hub, stop_through_hub
from bench.stats import percentile
from tests.support.hubclient import CERTIFICATE, HUB, SERVICE_TOKEN

PATH = f"/user/{USER}/api/status"


def route_target() -> str:
    """Where the proxy sends /user/alice/: asked from the proxy's API on the cluster network."""
    token = (ROOT / "inventories/local/secrets/proxy-token").read_text().strip()
    api = f"http://{container_ip('proxy')}:8001/api/routes"
    routes = requests.get(api, headers={"Authorization": f"token {token}"}, timeout=10).json()
    target: str = routes[f"/user/{USER}"]["target"]  # http://c1:PORT
    host, port = target.removeprefix("http://").split(":")
    return f"http://{container_ip(host)}:{port}"


def load(base: str, connections: int, total: int, deadline_s: float) -> dict[str, float]:
    headers = {"Authorization": f"token {SERVICE_TOKEN.read_text().strip()}"}
    counter = itertools.count()
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    ends = time.monotonic() + deadline_s

    def worker() -> None:
        nonlocal errors
        with requests.Session() as session:
            session.verify = str(CERTIFICATE)  # through the proxy: HTTPS, its self-signed certificate
            session.trust_env = False  # else REQUESTS_CA_BUNDLE overrides `verify`
            while next(counter) < total and time.monotonic() < ends:
                started = time.monotonic()
                try:
                    ok = session.get(base + PATH, headers=headers, timeout=10).status_code == 200
                except requests.RequestException:
                    ok = False
                with lock:
                    latencies.append(time.monotonic() - started)
                    errors += not ok

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=connections) as pool:
        for _ in range(connections):
            pool.submit(worker)
    wall = time.monotonic() - started
    return {"requests": len(latencies), "errors": errors, "rps": len(latencies) / wall,
            "p95_ms": 1000 * percentile(latencies, 95)}  # fmt: skip


def measure(levels: tuple[int, ...], total: int, deadline_s: float) -> list[dict[str, Any]]:
    start_through_hub()
    try:
        direct = route_target()
        load(HUB, 4, 200, 10)  # warm both paths (token cache, connections)
        load(direct, 4, 200, 10)
        rows = []
        for connections in levels:
            through = load(HUB, connections, total, deadline_s)
            straight = load(direct, connections, total, deadline_s)
            rows.append({"connections": connections, "proxy": through, "direct": straight,
                         "overhead_p95": through["p95_ms"] / straight["p95_ms"],
                         "rps_ratio": straight["rps"] / through["rps"]})  # fmt: skip
        return rows
    finally:
        stop_through_hub()
