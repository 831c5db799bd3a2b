"""The operators' dashboard (hpchub.dashboard): its charts drawn from Prometheus's answers, and the Grafana
dashboard made from the same queries. tests/infra/test_monitoring.py runs every query against the local
Prometheus; tests/e2e/test_operations.py draws the page in a browser as an admin (and refuses it to a user)."""

from __future__ import annotations

import json
from pathlib import Path

from hpchub import dashboard

ROOT = Path(__file__).resolve().parents[2]


def test_a_chart_per_series_with_its_latest_value():
    panel = dashboard.PANELS[4]  # running servers by partition
    result = [{"metric": {"partition": "interactive"}, "values": [[1000, "1"], [1060, "3"]]},
              {"metric": {"partition": "login"}, "values": [[1000, "2"], [1060, "NaN"]]}]  # fmt: skip
    drawn = dashboard.svg(panel, result, 1000, 1060)
    assert drawn.count("<polyline") == 2
    assert "interactive: 3" in drawn and "login: 2" in drawn  # NaN dropped: the last real value
    assert '<text x="0" y="12" font-size="11">3</text>' in drawn  # the y axis tops at the highest value


def test_no_data_says_so():
    assert "no data yet" in dashboard.svg(dashboard.PANELS[0], [], 0, 60)


def test_names_are_escaped():
    panel = dashboard.PANELS[3]  # failures by reason: the reason is the hub's text
    drawn = dashboard.svg(panel, [{"metric": {"reason": "<script>"}, "values": [[0, "1"]]}], 0, 60)
    assert "<script>" not in drawn and "&lt;script&gt;" in drawn


def test_the_queue_names_partition_and_reason():
    panel = next(p for p in dashboard.PANELS if "slurm_jobs_pending" in p.expr)
    assert dashboard.series_name(panel, {"partition": "debug", "reason": "Priority"}) == "debug: Priority"


def test_the_grafana_dashboard_is_the_panels_and_docs_has_it_current():
    made = dashboard.grafana()
    assert [p["targets"][0]["expr"] for p in made["panels"]] == [p.expr for p in dashboard.PANELS]
    committed = json.loads((ROOT / "docs/grafana-dashboard.json").read_text())
    assert committed == made, "docs/grafana-dashboard.json is stale: python -m hpchub.dashboard --grafana > it"
