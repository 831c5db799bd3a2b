"""Prometheus and Alertmanager of the local cluster (host `monitor`), as the tests ask them: Prometheus's API on
127.0.0.1:9090, and a webhook receiver on the monitoring host that records what Alertmanager sends
(monitoring_alert_receiver in the local inventory)."""

from __future__ import annotations

import json
import re
import urllib.parse
import urllib.request
from typing import Any

from tests.support.docker import on

PROMETHEUS = "http://127.0.0.1:9090"
SCRAPE_INTERVAL_S = 5  # monitoring_scrape_interval in the local inventory
GROUP_WAIT_S = 10  # group_wait in roles/monitoring/templates/alertmanager.yml.j2: a new group's first news
GROUP_INTERVAL_S = 10  # monitoring_alert_group_interval in the local inventory: a notified group's next news
RECEIVED = "/var/tmp/alerts-received.jsonl"
# The webhook receiver: each POST's body as one line of RECEIVED.
RECEIVER = (
    "import http.server\n"
    "class H(http.server.BaseHTTPRequestHandler):\n"
    "    def do_POST(self):\n"
    "        body = self.rfile.read(int(self.headers['Content-Length']))\n"
    f"        open('{RECEIVED}', 'ab').write(body.replace(b'\\n', b' ') + b'\\n')\n"
    "        self.send_response(200); self.end_headers()\n"
    "    def log_message(self, *args): pass\n"
    "http.server.HTTPServer(('127.0.0.1', 9099), H).serve_forever()\n"
)


SAMPLE = re.compile(r"^(\w+)(?:\{(.*)\})? (\S+)$")
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(text: str) -> Samples:
    """Prometheus's text format read as Prometheus does: (metric, its labels) -> value."""
    found: Samples = {}
    for line in text.splitlines():
        match = SAMPLE.match(line)
        if match and not line.startswith("#"):
            found[(match.group(1), frozenset(LABEL.findall(match.group(2) or "")))] = float(match.group(3))
    return found


def total(found: Samples, name: str, **labels: str) -> float:
    """The sum of metric `name` over the series whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(value for (metric, have), value in found.items() if metric == name and wanted <= have)


def prometheus(path: str, **params: str) -> Any:
    url = f"{PROMETHEUS}{path}" + (f"?{urllib.parse.urlencode(params)}" if params else "")
    with urllib.request.urlopen(url, timeout=10) as answer:
        return json.load(answer)


def query(expr: str) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = prometheus("/api/v1/query", query=expr)["data"]["result"]
    return result


def alerts(name: str, state: str = "firing", **labels: str) -> list[dict[str, Any]]:
    """Prometheus's alerts `name` in `state` (firing, pending) whose labels include `labels`."""
    return [alert for alert in prometheus("/api/v1/alerts")["data"]["alerts"]
            if alert["labels"].get("alertname") == name and alert["state"] == state
            and labels.items() <= alert["labels"].items()]  # fmt: skip


def start_receiver(host: str = "monitor") -> None:
    """The webhook receiver on the monitoring host, with nothing received yet (one receiver, however often)."""
    on(host, f"rm -f {RECEIVED}")
    on(host, "cat > /var/tmp/alert-receiver.py", stdin=RECEIVER)
    started = on(host, "ss -ltn | grep -q ':9099 ' || setsid python3 /var/tmp/alert-receiver.py >/dev/null 2>&1 &")
    assert started.returncode == 0, started.stderr


def received(name: str, status: str = "firing", host: str = "monitor") -> bool:
    """Whether Alertmanager sent alert `name` with `status` (firing, resolved) to the receiver."""
    for line in on(host, f"cat {RECEIVED} 2>/dev/null").stdout.splitlines():
        sent = json.loads(line)
        if any(a["labels"].get("alertname") == name and a["status"] == status for a in sent.get("alerts", [])):
            return True
    return False
