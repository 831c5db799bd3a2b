"""make bench: speed and scale of the running local deployment, side by side in one run.

Prints every table; writes the results as JSON and Markdown (docs/benchmarks.{json,md}, or .build/bench/
with --quick) and a PNG of the spawn latencies. Load goes only to 127.0.0.1 and the project's containers.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import (
    concurrency,
    environments,
    hub_host,
    kernels,
    logins,
    monitoring,
    parallel,
    proxy_load,
    report,
    spawn_latency,
    workflows,
)
from bench.cluster import ROOT, compute_nodes, idle_memory_mb, image_sizes_mb, timed
from bench.stats import summary

PREFIX = "hpc-jupyterhub-deploy"
# Sections run after the others, each also alone (--only KEY): their title and their measurement.
SECTIONS: dict[str, tuple[str, Callable[[int, Callable[[str], None]], dict[str, Any]]]] = {
    "parallel": ("Dask, IPython Parallel and MPI from a notebook", parallel.measure),
    "workflows": ("Workflows on Slurm", workflows.measure),
    "kernels": ("Kernels as Slurm jobs, and servers on the login node", kernels.measure),
    "environments": ("Users' environments: site environments, R and module kernels", environments.measure),
    "logins": ("Logins with users in the directory", logins.measure),
    "hub_host": ("A hub host without Docker: the hub and the proxy as systemd services", hub_host.measure),
    "monitoring": ("The monitoring's own cost", monitoring.measure),
}
TABLES = {"parallel": report.parallel_table, "workflows": report.workflows_table, "kernels": report.kernels_table,
          "environments": report.environments_table,
          "logins": report.logins_table, "hub_host": report.hub_host_table,
          "monitoring": report.monitoring_table}  # fmt: skip
IMAGES = ["notebook", "hub", "proxy", "node"]


def say(text: str) -> None:
    print(text, flush=True)


def make(target: str, users: int, log_dir: Path) -> float:
    return timed(["make", target, f"BENCH_USERS={users}"], log_dir / f"make-{target}.log")


def deployment(users: int, cold: bool, log_dir: Path) -> dict[str, float]:
    timings: dict[str, float] = {}
    if cold:
        say("== make up, cold: no images, no build cache")
        make("down", users, log_dir)
        tag = (ROOT / "VERSION").read_text().strip()
        ours = [f"{PREFIX}/{name}:{tag}" for name in IMAGES]
        subprocess.run(["docker", "rmi", "--force", *ours, "debian:bookworm-slim"], capture_output=True, check=False)
        subprocess.run(["docker", "builder", "prune", "--all", "--force"], capture_output=True, check=False)
        timings["make up (cold: no images)"] = make("up", users, log_dir)
    timings["make up (again, nothing to do)"] = make("up", users, log_dir)
    say("== make down, then make up (warm: images cached)")
    timings["make down"] = make("down", users, log_dir)
    timings["make up (warm: after make down)"] = make("up", users, log_dir)
    return timings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few samples of each, results under .build/bench")
    parser.add_argument("--cold", action="store_true", help="also time make up from no images (about 5 min)")
    parser.add_argument("--only", choices=sorted(SECTIONS), help="run one section; the others' results are kept")
    args = parser.parse_args()
    rounds, levels, user_counts = (2, (1, 5), (3,)) if args.quick else (20, (1, 10, 50), (10, 25, 50))
    out = ROOT / (".build/bench" if args.quick else "docs")
    log_dir = ROOT / ".build/bench/logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    if args.only:
        earlier = out / "benchmarks.json"
        results = json.loads((earlier if earlier.exists() else ROOT / "docs/benchmarks.json").read_text())
        results.setdefault("measured_later", [key for key in SECTIONS if key in results])
        title, measure = SECTIONS[args.only]
        say(f"== {title}")
        results[args.only] = measure(2 if args.quick else 5, say)
        if args.only not in results["measured_later"]:
            results["measured_later"].append(args.only)
        write(results, out)
        return 0
    say(f"== make up with {max(user_counts)} simulated users")
    make("up", max(user_counts), log_dir)

    results: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, "
        f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB",
        "compute_nodes": len(compute_nodes()),
    }
    say(f"== spawn latency: {rounds} rounds of ours, stock batchspawner, floor (srun), sbatch")
    samples = spawn_latency.measure(rounds, say)
    results["spawn_samples"] = samples
    results["spawn"] = {name: summary(values) for name, values in samples.items()}
    ours, stock, floor, batch = (results["spawn"][n]["median"] for n in samples)
    results["spawn_ratios"] = {
        "ours / floor": ours / floor, "stock / ours": stock / ours, "ours / sbatch": ours / batch
    }  # fmt: skip

    results["concurrency"] = []
    for users in user_counts:
        say(f"== {users} concurrent users: login, spawn, kernel, stop")
        results["concurrency"].append(concurrency.run(users))
        say(report.concurrency_table(results["concurrency"][-1:]))

    say("== proxy: requests to a user's server through the proxy and straight")
    results["proxy"] = proxy_load.measure(levels, total=300 if args.quick else 3000, deadline_s=30)

    say("== footprint (idle)")
    names = ["jupyterhub", "proxy", "slurmctld", "slurmdbd", "login", *compute_nodes()]
    results["idle_memory_mb"] = idle_memory_mb(names)
    tag = (ROOT / "VERSION").read_text().strip()
    results["image_mb"] = image_sizes_mb([f"{PREFIX}/{name}:{tag}" for name in IMAGES])

    for key, (title, measure) in SECTIONS.items():
        say(f"== {title}")
        results[key] = measure(2 if args.quick else 5, say)

    # The README's make up (its 5 users): 50 simulated users would time the creation of their accounts.
    results["deployment_s"] = deployment(0, args.cold and not args.quick, log_dir)
    results["bench_s"] = time.monotonic() - started
    write(results, out)
    return 0


def write(results: dict[str, Any], out: Path) -> None:
    """Print every table; write docs/benchmarks.{json,md} (one place for every figure) and the spawn plot."""
    ratios = results["spawn_ratios"]
    sections = [
        ("Spawn latency", report.spawn_table(results["spawn"])
         + f"\n\nours / floor = {ratios['ours / floor']:.2f} (target <= 1.3); "
           f"stock / ours = {ratios['stock / ours']:.2f} (target >= 1.5); "
           f"ours / sbatch without the hub = {ratios['ours / sbatch']:.2f} (the hub's own share)"),
        ("Concurrent users", report.concurrency_table(results["concurrency"])),
        ("Proxy", report.proxy_table(results["proxy"])),
        ("make up / make down", report.deployment_table(results["deployment_s"])),
        ("Footprint", report.footprint_table(results["idle_memory_mb"], results["image_mb"])),
    ]  # fmt: skip
    for key, (title, _) in SECTIONS.items():
        if key in results:
            sections.append((title, TABLES[key](results[key])))
    text = "\n\n".join(f"## {title}\n\n{body}" for title, body in sections)
    say("\n" + text)
    report.write_json(out / "benchmarks.json", results)
    header = (f"# Benchmarks\n\nWritten by `make bench` on {results['date']} ({results['machine']}, "
              f"{results['compute_nodes']} compute nodes); the whole run took {results['bench_s'] / 60:.0f} min. "
              "Method: the repository's `bench/` (`python -m bench.run`). "
              "Spawn latency: ![spawn latency](spawn-latency.png)\n\n")  # fmt: skip
    for key in results.get("measured_later", []):
        header += f"({SECTIONS[key][0]}: measured later, by `make bench BENCH_ARGS='--only {key}'`.)\n\n"
    (out / "benchmarks.md").write_text(header + text + "\n")
    tag = (ROOT / "VERSION").read_text().strip()
    report.plot(out / "benchmarks.json", out / "spawn-latency.png", f"{PREFIX}/notebook:{tag}")
    say(f"\nwritten: {out / 'benchmarks.md'}, {out / 'benchmarks.json'}, {out / 'spawn-latency.png'}")


if __name__ == "__main__":
    sys.exit(main())
