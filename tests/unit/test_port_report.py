"""The port-report API accepts only an integer port from the user's server (hub_config/hpchub/port_report.py)."""

from __future__ import annotations

import pytest

port_report = pytest.importorskip("hpchub.port_report", reason="needs jupyterhub (tested in the hub image too)")


def test_a_port_is_accepted():
    assert port_report.parse_port_report({"port": 45678}) == 45678


@pytest.mark.parametrize(
    "body",
    [
        {"port": "45678"},
        {"port": 80},
        {"port": 70000},
        {"port": True},
        {"port": 45678, "batch_submit_cmd": "bash -c 'id'"},
        {"batch_query_cmd": "true"},
        {"ip": "10.0.0.1"},
        ["port", 45678],
        None,
    ],
)
def test_anything_else_is_refused(body):
    with pytest.raises(ValueError):
        port_report.parse_port_report(body)
