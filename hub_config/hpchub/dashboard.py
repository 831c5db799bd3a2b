"""The operators' dashboard: /hub/hpchub/dashboard, for admins only, drawn from Prometheus (roles/monitoring).

Each panel is a PromQL query over the last hours, drawn on the hub as an SVG chart (no script, no library): spawns
and their latency, failures by reason, running servers by place, active users, the queue by partition and pending
reason, node states, allocated CPUs and GPUs. PANELS is the one list: the page draws it, `python -m
hpchub.dashboard --grafana` writes the same queries as a Grafana dashboard (docs/grafana-dashboard.json, for sites
that run Grafana), and the tests run every query against the local Prometheus.
"""

from __future__ import annotations

import argparse
import asyncio
import html
import json
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any

from jupyterhub.handlers.base import BaseHandler
from jupyterhub.scopes import needs_scope
from tornado import web
from tornado.httpclient import AsyncHTTPClient, HTTPClientError


@dataclass(frozen=True)
class Panel:
    title: str
    expr: str
    legend: str  # the label that names a series ("" for one series)
    unit: str = ""


PANELS = (
    Panel("Server starts per hour", 'sum by (status) (increase(jupyterhub_server_spawn_duration_seconds_count[1h]))',
          "status"),
    Panel("Server start latency p50 (s)", 'histogram_quantile(0.5, sum by (le) '
          '(rate(jupyterhub_server_spawn_duration_seconds_bucket{status="success"}[30m])))', "", "s"),
    Panel("Server start latency p95 (s)", 'histogram_quantile(0.95, sum by (le) '
          '(rate(jupyterhub_server_spawn_duration_seconds_bucket{status="success"}[30m])))', "", "s"),
    Panel("Failed starts per hour by reason", 'sum by (reason) '
          '(increase(jupyterhub_server_spawn_duration_seconds_count{status!="success"}[1h]))', "reason"),
    Panel("Running servers by place (partition)", 'sum by (partition) (slurm_jobs{kind="server",state="RUNNING"})',
          "partition"),
    Panel("Active users", "jupyterhub_active_users", "period"),
    Panel("Queue: pending jobs by partition and reason", "sum by (partition, reason) (slurm_jobs_pending)",
          "reason"),
    Panel("Nodes by state", "sum by (state) (slurm_nodes)", "state"),
    Panel("Allocated CPUs by partition", "sum by (partition) (slurm_partition_cpus_allocated)", "partition"),
    Panel("Allocated GPUs by partition", "sum by (partition) (slurm_partition_gpus_allocated)", "partition"),
)  # fmt: skip
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")
WIDTH, HEIGHT, POINTS = 500, 160, 120


def series_name(panel: Panel, labels: dict[str, str]) -> str:
    if panel.expr.startswith("sum by (partition, reason)"):
        return f"{labels.get('partition', '')}: {labels.get('reason', '')}"
    return labels.get(panel.legend, "") if panel.legend else panel.title


def svg(panel: Panel, result: list[dict[str, Any]], start: float, end: float) -> str:
    """One panel's chart: a line per series, the y axis from 0 to the highest value, the latest values beside."""
    lines = []
    for item in result:
        points = [(float(t), float(v)) for t, v in item.get("values", []) if v not in ("NaN", "+Inf", "-Inf")]
        if points:
            lines.append((series_name(panel, item.get("metric", {})), points))
    top = max((v for _, points in lines for _, v in points), default=0.0) or 1.0
    span = max(end - start, 1.0)
    parts = [f'<svg class="hpc-chart" width="{WIDTH}" height="{HEIGHT + 20}" role="img" '
             f'aria-label="{html.escape(panel.title)}">',
             f'<line x1="40" y1="{HEIGHT}" x2="{WIDTH}" y2="{HEIGHT}" stroke="#999"/>',
             f'<text x="0" y="12" font-size="11">{top:.3g}</text>',
             f'<text x="0" y="{HEIGHT}" font-size="11">0</text>',
             f'<text x="40" y="{HEIGHT + 15}" font-size="11">{time.strftime("%H:%M", time.gmtime(start))} UTC</text>',
             f'<text x="{WIDTH - 40}" y="{HEIGHT + 15}" font-size="11">now</text>']  # fmt: skip
    legend = []
    for index, (name, points) in enumerate(lines[: len(COLOURS)]):
        colour = COLOURS[index]
        xy = " ".join(f"{40 + (t - start) / span * (WIDTH - 40):.1f},{HEIGHT - v / top * (HEIGHT - 10):.1f}"
                      for t, v in points)  # fmt: skip
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{xy}"/>')
        legend.append(f'<li><span style="color:{colour}">&#9632;</span> {html.escape(name or "(none)")}: '
                      f"{points[-1][1]:.3g}{html.escape(panel.unit)}</li>")  # fmt: skip
    parts.append("</svg>")
    if not lines:
        legend.append("<li>no data yet</li>")
    return "".join(parts) + '<ul class="hpc-legend">' + "".join(legend) + "</ul>"


async def query_range(prometheus: str, expr: str, start: float, end: float) -> list[dict[str, Any]]:
    step = max(int((end - start) / POINTS), 15)
    params = urllib.parse.urlencode({"query": expr, "start": start, "end": end, "step": step})
    reply = await AsyncHTTPClient().fetch(f"{prometheus.rstrip('/')}/api/v1/query_range?{params}", request_timeout=10)
    body = json.loads(reply.body)
    if body.get("status") != "success":
        raise ValueError(body.get("error", "Prometheus refused the query"))
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


class DashboardHandler(BaseHandler):  # type: ignore[misc]
    """GET /hub/hpchub/dashboard[?hours=N]: every panel over the last N hours (6 by default), admins only."""

    prometheus_url = ""  # set by install(): where the hub asks
    prometheus_link = ""  # where an admin's browser opens Prometheus

    @web.authenticated
    @needs_scope("admin-ui")  # type: ignore[untyped-decorator]
    async def get(self) -> None:
        if not self.prometheus_url:
            raise web.HTTPError(404, "No Prometheus: the inventory has no monitoring host (roles/monitoring)")
        hours = min(max(float(self.get_argument("hours", "6")), 0.25), 24 * 30)
        end = time.time()
        start = end - hours * 3600

        async def one(panel: Panel) -> str:
            try:
                drawn = svg(panel, await query_range(self.prometheus_url, panel.expr, start, end), start, end)
            except (HTTPClientError, OSError, ValueError) as error:
                drawn = f'<p class="text-danger">Prometheus did not answer: {html.escape(str(error))}</p>'
            return f'<section class="hpc-panel"><h2>{html.escape(panel.title)}</h2>{drawn}</section>'

        panels = await asyncio.gather(*(one(panel) for panel in PANELS))
        self.finish(await self.render_template("dashboard.html", panels=panels, hours=hours,
                                               prometheus=self.prometheus_link or self.prometheus_url))  # fmt: skip


def install(prometheus_url: str, prometheus_link: str = "") -> list[tuple[str, type[BaseHandler]]]:
    DashboardHandler.prometheus_url, DashboardHandler.prometheus_link = prometheus_url, prometheus_link
    return [(r"/hpchub/dashboard", DashboardHandler)]


def grafana() -> dict[str, Any]:
    """PANELS as a Grafana dashboard (datasource: the site's Prometheus, chosen at import)."""
    source = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
    panels = [{"id": index + 1, "type": "timeseries", "title": panel.title, "datasource": source,
               "gridPos": {"h": 8, "w": 12, "x": 12 * (index % 2), "y": 8 * (index // 2)},
               "fieldConfig": {"defaults": {"unit": panel.unit or "short"}, "overrides": []},
               "targets": [{"refId": "A", "expr": panel.expr, "datasource": source,
                            "legendFormat": f"{{{{{panel.legend}}}}}" if panel.legend else panel.title}]}
              for index, panel in enumerate(PANELS)]  # fmt: skip
    return {"title": "hpc-jupyterhub-deploy", "uid": "hpc-jupyterhub", "schemaVersion": 38, "time":
            {"from": "now-6h", "to": "now"}, "refresh": "1m", "panels": panels,
            "__inputs": [{"name": "DS_PROMETHEUS", "label": "Prometheus", "type": "datasource",
                          "pluginId": "prometheus"}]}  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="The dashboard's panels as a Grafana dashboard (JSON)")
    parser.add_argument("--grafana", action="store_true", help="print the Grafana dashboard")
    args = parser.parse_args(argv)
    if args.grafana:
        print(json.dumps(grafana(), indent=2))
    else:
        for panel in PANELS:
            print(f"{panel.title}\n    {panel.expr}")


if __name__ == "__main__":
    main()
