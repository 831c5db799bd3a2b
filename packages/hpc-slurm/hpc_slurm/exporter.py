"""The Slurm exporter: `python -m hpc_slurm.exporter --port 9817` serves `hpc_slurm.metrics` at /metrics.

Each scrape runs one squeue, one sinfo, one sdiag and one sacct (through the one runner, `hpc_slurm.run`, with its
query timeout), whatever the queue's size; it adds its own cost (`slurm_exporter_scrape_seconds`) and how many
times it ran each command (`slurm_exporter_commands_total`). Scrapes that arrive together share one run. The
monitoring role runs it on the Slurm controller as a systemd service (roles/monitoring).
"""

from __future__ import annotations

import argparse
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from hpc_slurm import metrics
from hpc_slurm.command import run

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Exporter:
    """Runs the commands for a scrape; one scrape at a time (the others wait and get its answer)."""

    def __init__(self, runner: Callable[[Sequence[str]], str] = run) -> None:
        self._runner = runner
        self._lock = threading.Lock()
        self.calls: Counter[str] = Counter()

    def _run(self, argv: Sequence[str]) -> str:
        self.calls[argv[0]] += 1
        return str(self._runner(argv))

    def scrape(self) -> str:
        with self._lock:
            started = time.monotonic()
            found = metrics.collect(self._run)
            cost = metrics.Metric("slurm_exporter_scrape_seconds", "how long this scrape's Slurm commands took")
            cost.add(time.monotonic() - started)
            calls = metrics.Metric("slurm_exporter_commands_total", "Slurm commands run since the start", "counter")
            for command, count in self.calls.items():
                calls.add(count, command=command)
            return metrics.render([*found, cost, calls])


def handler_for(exporter: Exporter) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?", 1)[0] != "/metrics":
                self.send_error(404, "the metrics are at /metrics")
                return
            body = exporter.scrape().encode()
            self.send_response(200)
            self.send_header("Content-Type", CONTENT_TYPE)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # a line per scrape would fill the journal

    return Handler


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m hpc_slurm.exporter", description=__doc__.splitlines()[0])
    parser.add_argument("--address", default="0.0.0.0", help="the address to listen on (default: every one)")
    parser.add_argument("--port", type=int, default=9817, help="the port to listen on (default: 9817)")
    args = parser.parse_args(argv)
    server = ThreadingHTTPServer((args.address, args.port), handler_for(Exporter()))
    print(f"hpc_slurm.exporter: serving Slurm's metrics at http://{args.address}:{args.port}/metrics", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
