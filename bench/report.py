"""The benchmark's tables: printed, as Markdown for docs/benchmarks.md, and a PNG of spawn latencies."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from bench.cluster import ROOT

Row = list[str]


def table(header: Row, rows: list[Row]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def spawn_table(latency: dict[str, dict[str, float]]) -> str:
    rows = [[name, str(int(s["n"])), *(seconds(s.get(k)) for k in ("min", "median", "p95", "max"))]
            for name, s in latency.items()]  # fmt: skip
    return table(["spawn, request to ready (s)", "n", "min", "median", "p95", "max"], rows)


def concurrency_table(runs: list[dict[str, Any]]) -> str:
    rows = []
    for run in runs:
        phases = run["phases"]
        cells = [f"{seconds(phases[p].get('median'))} / {seconds(phases[p].get('p95'))}" for p in phases]
        rows.append([str(run["users"]), f"{run['ok']}/{run['users']}", *cells,
                     f"{run['hub_cpu_mean_pct']:.0f} / {run['hub_cpu_peak_pct']:.0f}",
                     f"{run['hub_mem_peak_mb']:.0f}",
                     f"{run.get('machine_cpu_s_per_user', 0):.2f} / {run.get('hub_cpu_s_per_user', 0):.2f}",
                     f"{run['wall_s']:.0f}"])  # fmt: skip
    header = ["users", "ok", "login p50/p95 (s)", "spawn p50/p95", "kernel p50/p95", "stop p50/p95",
              "hub CPU % mean/peak", "hub MB peak", "CPU-s per user: machine / hub", "run (s)"]  # fmt: skip
    return table(header, rows)


def proxy_table(rows: list[dict[str, Any]]) -> str:
    out = [[str(r["connections"]), f"{r['proxy']['rps']:.0f}", f"{r['proxy']['p95_ms']:.1f}",
            f"{r['direct']['rps']:.0f}", f"{r['direct']['p95_ms']:.1f}", f"{r['overhead_p95']:.2f}",
            str(r["proxy"]["errors"] + r["direct"]["errors"])] for r in rows]  # fmt: skip
    header = ["connections", "proxy req/s", "proxy p95 ms", "direct req/s", "direct p95 ms",
              "p95 proxy/direct", "errors"]  # fmt: skip
    return table(header, out)


def deployment_table(timings: dict[str, float]) -> str:
    return table(["command", "seconds"], [[name, f"{value:.0f}"] for name, value in timings.items()])


def footprint_table(memory: dict[str, float], images: dict[str, float]) -> str:
    rows = [[f"container {name}", f"{mb:.0f} MB"] for name, mb in memory.items()]
    rows += [[f"image {name}", f"{mb:.0f} MB"] for name, mb in images.items()]
    return table(["footprint", "size"], rows)


def parallel_table(result: dict[str, Any]) -> str:
    m, r = result["medians"], result["ratios"]
    n = len(result["samples"]["dask_scale"])
    rows = [
        ["Dask: scale(jobs=2) to 2 workers (s)", f"{m['dask_scale']:.2f}", f"{m['dask_sbatch']:.2f}",
         f"{r['dask scale / sbatch']:.2f}", "<= 1.3"],
        ["IPython Parallel: start_engines(n=2) to 2 engines (s)", f"{m['ipp_start']:.2f}", f"{m['ipp_sbatch']:.2f}",
         f"{r['ipp start / sbatch']:.2f}", "<= 1.3"],
        ["Dask: 2,000 no-op tasks, 2 workers (tasks/s)", f"{m['dask_remote_tps']:.0f}",
         f"{m['dask_local_tps']:.0f}", f"{r['dask remote / local tasks/s']:.2f}", "report"],
        ["IPython Parallel: 2,000 no-op tasks, 2 engines (tasks/s)", f"{m['ipp_remote_tps']:.0f}",
         f"{m['ipp_local_tps']:.0f}", f"{r['ipp remote / local tasks/s']:.2f}", "report"],
        ["MPI allreduce, 2 ranks on 2 nodes (us)", f"{m['mpi_notebook_us']:.1f}", f"{m['mpi_login_us']:.1f}",
         f"{r['mpi notebook / login']:.2f}", "<= 1.2"],
    ]  # fmt: skip
    header = [f"from a notebook (median of {n} rounds)", "ours", "reference", "ratio", "target"]
    notes = ("\n\nReferences: start-up, the same job script submitted with a plain `sbatch` until the workers or "
             "engines answer; throughput, a LocalCluster / local engines with 2 workers in the server's own job; "
             "MPI, the same program under `srun --mpi=pmix` from a login shell.")  # fmt: skip
    return table(header, rows) + notes


def kernels_table(result: dict[str, Any]) -> str:
    m, r = result["medians"], result["ratios"]
    n = len(result["samples"]["kernel_job_s"])
    rows = [
        ["a kernel as a Slurm job: request to first execute reply (s)", f"{m['kernel_job_s']:.2f}",
         f"{m['plain_sbatch_s']:.2f}", f"{r['kernel job / plain sbatch']:.2f}", "<= 1.3"],
        ["a local kernel on the server: request to first execute reply (s)", f"{m['local_kernel_s']:.2f}", "", "",
         "report"],
        ["a whole server on a compute node (interactive): request to ready (s)", f"{m['compute_spawn_s']:.2f}", "",
         "", "report"],
        ["a server on the login node: request to ready (s)", f"{m['login_spawn_s']:.2f}", "", "", "report"],
    ]  # fmt: skip
    spawns = len(result["samples"]["login_spawn_s"])
    header = [f"kernels and places (median of {n} rounds; the others of {spawns})", "ours", "plain sbatch", "ratio",
              "target"]  # fmt: skip
    notes = ("\n\nThe reference is the same kernel job (launcher, connection file, partition, size) submitted with a "
             "plain `sbatch` from the server and timed until it answers an execute request. The two are submitted "
             "at the same instant: slurmctld starts a batch job at its next background pass, once a second, so "
             "either waits 0 to 1 s for Slurm; side by side they wait for the same pass. The ratio is the median "
             "of the rounds' ratios.")  # fmt: skip
    return table(header, rows) + notes


def environments_table(result: dict[str, Any]) -> str:
    m, r, disk = result["medians"], result["ratios"], result["disk_mb"]
    n = len(result["samples"]["default_spawn_s"])
    rows = [["a server in numpy1 / in the default environment: request to ready (s)", f"{m['numpy1_spawn_s']:.2f}",
             f"{m['default_spawn_s']:.2f}", f"{r['server in numpy1 / in default']:.2f}", "report"]]  # fmt: skip
    kernels = {"R kernel on a compute node / Python's": ("slurm-interactive-r", "slurm-interactive", "report"),
               "R kernel on the server / Python's": ("ir", "python3", "report"),
               "module kernel (python3-numpy1) / python3": ("python3-numpy1", "python3", "report")}  # fmt: skip
    for label, (ours, theirs, target) in kernels.items():
        rows.append([f"{label}: request to first execute reply (s)", f"{m[f'{ours}_s']:.2f}", f"{m[f'{theirs}_s']:.2f}",
                     f"{r[label]:.2f}", target])  # fmt: skip
    rows += [[label, f"{value:.0f}", "", "", "report"] for label, value in disk.items()]
    header = [f"environments (median of {n} rounds)", "ours", "the default", "ratio", "target"]
    notes = ("\n\nR starts slower than Python in itself (its two local kernels); the Slurm job adds about as much to "
             "either. A server in numpy1 loads a module in a login shell and imports from the shared software "
             "filesystem; a module kernel starts a login shell and Lmod first.")  # fmt: skip
    return table(header, rows) + notes


def logins_table(result: dict[str, Any]) -> str:
    pam, many, spawn = result["pam"], result["concurrent"], result["spawn"]
    rows = [
        ["PAM, the hub's call: a directory user through SSSD / a local account (ms, median)",
         f"{pam['sssd']['median'] * 1000:.1f}", f"{pam['local']['median'] * 1000:.1f}", f"{result['pam_ratio']:.2f}",
         "<= 1.2"],
        ["a login through the proxy, form to redirect (s, median)", seconds(result["login_through_proxy"]["median"]),
         "", "", "report"],
        [f"{many['users']} logins at once: failures, p50 / p95 (s)",
         f"{many['failures']}, {seconds(many['latency'].get('median'))} / {seconds(many['latency'].get('p95'))}",
         "", "", "0 failures"],
        ["a user added to the directory: first spawn / an existing user's (s)",
         seconds(spawn["new_user_first_spawn_s"]), seconds(spawn["existing_user_spawn_s"]),
         f"{spawn['new_user_first_spawn_s'] / spawn['existing_user_spawn_s']:.2f}", "report"],
        ["the new user's project offered after their first login (s)", f"{spawn['project_after_s']:.0f}", "", "",
         "<= 30 (the sync)"],
    ]  # fmt: skip
    n = len(result["pam_samples"]["sssd"])
    header = [f"logins (PAM: {n} rounds, alternated)", "ours", "reference", "ratio", "target"]
    return table(header, rows)


def hub_host_table(result: dict[str, Any]) -> str:
    rows = [
        ["the hub host from bare: the hub's venv, the proxy, units, users, munge, Slurm's client",
         seconds(result["hub_host_from_bare_s"]), str(result["hub_host_from_bare_changed"]), "report"],
        ["the hub host again, nothing to change", seconds(result["hub_host_again_s"]),
         str(result["hub_host_again_changed"]), "0 changed"],
        ["(the rest of the site first, without the hub host)", seconds(result["site_without_hub_host_s"]), "", ""],
    ]  # fmt: skip
    return table(["deploy/site.yml --limit the hub host (jupyterhub_runtime systemd)", "s", "changed", "target"], rows)


def monitoring_table(result: dict[str, Any]) -> str:
    rows = [[label, f"{use['cpu_percent']:.2f}", f"{use['rss_mb']:.0f}"] for label, use in result["usage"].items()]
    rows += [
        ["Prometheus's series in memory (head)", str(result["prometheus_series"]), ""],
        ["a Slurm exporter scrape, empty queue (s, median)", f"{result['scrape_empty_s']:.3f}", ""],
        ["a Slurm exporter scrape, 1,000 queued jobs (s, median)", f"{result['scrape_1000_jobs_s']:.3f}", ""],
    ]  # fmt: skip
    return table([f"the monitoring's own cost (CPU over {result['window_s']} s, scrapes every 5 s)", "CPU %",
                  "RSS MB"], rows)  # fmt: skip


def workflows_table(result: dict[str, Any]) -> str:
    m, r = result["medians"], result["ratios"]
    n = len(result["samples"]["chain_workflow_s"])
    rest = m["notebook_step_s"] - m["notebook_submit_s"] - m["notebook_cells_s"] - m["notebook_html_s"]
    rows = [
        ["a chain of 10 trivial steps: first step's run to last step's (s)", f"{m['chain_workflow_s']:.2f}",
         f"{m['chain_plain_s']:.2f}", f"{r['chain workflow / plain']:.2f}", "<= 1.2"],
        ["a notebook step vs the same code as a script job: submission to end (s)", f"{m['notebook_step_s']:.2f}",
         f"{m['script_job_s']:.2f}", f"{r['notebook step / script job']:.2f}", "report"],
        ["... of which the submitting command (s)", f"{m['notebook_submit_s']:.2f}", f"{m['script_submit_s']:.2f}",
         "", ""],
        ["... the kernel's start and the cells (papermill) (s)", f"{m['notebook_cells_s']:.2f}", "", "", ""],
        ["... the HTML rendering (s)", f"{m['notebook_html_s']:.2f}", "", "", ""],
        ["... the rest: Slurm's start of the job, Python's imports (s)", f"{rest:.2f}", "", "", ""],
        ["a 100-step DAG: submitted (s)", f"{m['dag100_submit_s']:.2f}", "", "", "< 10"],
        ["a 100-step DAG: one status refresh (s)", f"{m['dag100_status_s']:.2f}", "", "", "< 1"],
    ]  # fmt: skip
    header = [f"workflows (median of {n} rounds)", "hpc-workflow", "plain Slurm", "ratio", "target"]
    notes = ("\n\nEach job of a chain writes the time it runs (`date +%s.%N`): a chain's span is nine links of Slurm "
             "starting the next job and each job's own start-up. A job's submission to its end is seen from the "
             "login node (squeue every 0.1 s); the notebook step's parts are from its job log. A ratio is the "
             "median of the rounds' ratios (the two of a round ran side by side).")  # fmt: skip
    return table(header, rows) + notes


PLOT = """
import json, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
samples = json.load(open(sys.argv[1]))["spawn_samples"]
fig, ax = plt.subplots(figsize=(8, 4), dpi=100)
names = list(samples)
ax.boxplot([samples[n] for n in names], vert=False, showfliers=True)
for i, n in enumerate(names, start=1):
    ax.scatter(samples[n], [i] * len(samples[n]), s=12, alpha=0.6)
ax.set_yticks(range(1, len(names) + 1), names)
ax.set_xlabel("seconds, request to ready")
ax.set_title("Spawn latency (n = %d each)" % len(samples[names[0]]))
ax.grid(axis="x", alpha=0.3)
fig.tight_layout()
fig.savefig(sys.argv[2])
"""


def plot(results_json: Path, png: Path, notebook_image: str) -> None:
    """Drawn with the notebook image's matplotlib: the benchmark needs no plotting library of its own."""
    folder = png.parent.resolve()
    argv = ["docker", "run", "--rm", "--user", "0", "--network", "none",
            "-v", f"{results_json.resolve()}:/in/results.json:ro", "-v", f"{folder}:/out",
            notebook_image, "python3", "-c", PLOT, "/in/results.json", f"/out/{png.name}"]  # fmt: skip
    subprocess.run(argv, check=True, capture_output=True, cwd=ROOT)


def write_json(path: Path, results: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")
