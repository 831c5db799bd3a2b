"""The monitoring's own cost (issue 30): CPU and memory of Prometheus, its blackbox prober, node_exporter and the
Slurm exporter at the local scale, and the Slurm exporter's time per scrape with an empty queue and with 1,000
queued jobs (a held job array, one call of each Slurm command per scrape whatever its size).

CPU is each process's, with its children's (user + system, from /proc/PID/stat) over a window of Prometheus
scraping every target every 5 s; memory its resident set. Load goes to the project's containers only.
"""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Callable
from typing import Any

from tests.support.docker import on

WINDOW_S = 60
# (label, host, the process's command line as pgrep -f matches it)
PROCESSES = [
    ("Prometheus (monitoring host)", "monitor", "^/usr/bin/prometheus "),
    ("blackbox prober (monitoring host)", "monitor", "^/usr/bin/prometheus-blackbox-exporter"),
    ("node_exporter (each host; here slurmctld's)", "slurmctld", "^/usr/bin/prometheus-node-exporter"),
    ("Slurm exporter (controller)", "slurmctld", "python -m hpc_slurm[.]exporter"),
]
# One scrape of the Slurm exporter from the monitoring host, as Prometheus makes it: its seconds and bytes.
SCRAPE = (
    "import time, urllib.request\n"
    "started = time.monotonic()\n"
    "body = urllib.request.urlopen('http://slurmctld:9817/metrics', timeout=30).read()\n"
    "print(time.monotonic() - started, len(body))\n"
)
TICKS = 100  # clock ticks per second (Linux's USER_HZ)


def _usage(host: str, pattern: str) -> tuple[float, float]:
    """(CPU seconds so far, resident MB) of the process matching `pattern` on `host`."""
    pid = on(host, f"pgrep -o -f -- '{pattern}'").stdout.strip()
    assert pid, f"no process {pattern!r} on {host}"
    stat = on(host, f"cat /proc/{pid}/stat").stdout
    fields = stat.rsplit(")", 1)[1].split()
    # utime, stime, and cutime, cstime: its own and its waited-for children's (the exporter's Slurm commands)
    cpu = sum(int(field) for field in fields[11:15]) / TICKS
    rss = re.search(r"VmRSS:\s+(\d+) kB", on(host, f"cat /proc/{pid}/status").stdout)
    return cpu, int(rss.group(1)) / 1024 if rss else 0.0


def _scrapes(count: int) -> list[float]:
    times = []
    for _ in range(count):
        seconds, _size = on("monitor", "python3 -", stdin=SCRAPE).stdout.split()
        times.append(float(seconds))
    return times


def measure(rounds: int, say: Callable[[str], None]) -> dict[str, Any]:
    say(f"   CPU and memory over {WINDOW_S} s of scraping every 5 s")
    before = {label: _usage(host, pattern) for label, host, pattern in PROCESSES}
    time.sleep(WINDOW_S)  # the measuring window itself, not a wait for readiness
    after = {label: _usage(host, pattern) for label, host, pattern in PROCESSES}
    usage = {label: {"cpu_percent": 100 * (after[label][0] - before[label][0]) / WINDOW_S,
                     "rss_mb": after[label][1]} for label in before}  # fmt: skip
    series = on("monitor", "python3 -c 'import json,urllib.request as u; print(json.load(u.urlopen("
                "\"http://127.0.0.1:9090/api/v1/query?query=prometheus_tsdb_head_series\"))"
                "[\"data\"][\"result\"][0][\"value\"][1])'").stdout.strip()  # fmt: skip
    say("   the Slurm exporter's scrape: an empty queue, then 1,000 held jobs")
    empty = _scrapes(rounds * 4)
    array = on("login", "sbatch --parsable --hold --array=0-999 --time=1 --account=m1000 --chdir=/tmp "
               "--output=/dev/null --wrap true", user="alice").stdout.strip()  # fmt: skip
    try:
        full = _scrapes(rounds * 4)
    finally:
        on("login", f"scancel {array}", user="alice")
    return {
        "window_s": WINDOW_S,
        "usage": usage,
        "prometheus_series": int(float(series or 0)),
        "scrape_empty_s": statistics.median(empty),
        "scrape_1000_jobs_s": statistics.median(full),
        "scrapes": len(full),
    }
