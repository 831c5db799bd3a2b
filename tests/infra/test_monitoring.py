"""Metrics and alerts (role monitoring), as an operator checks them: Prometheus scrapes every target, the Slurm
exporter's figures are squeue's and sinfo's for a queue the test makes, its cost stays one call of each command
per scrape at 1,000 queued jobs, and the alerting rules pass promtool's checks and unit tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.docker import docker, on
from tests.support.infra import as_user, hosts_of
from tests.support.monitoring import Samples, prometheus, query, samples, total
from tests.support.waiting import wait_for

HERE = Path(__file__).parent
# The node image has no curl: Python's urllib, on the monitoring host (argv: URL [TOKEN FILE]); prints the body,
# or the HTTP status after "HTTP " when it is an error.
FETCH = (
    "python3 -c 'import sys, urllib.request as u, urllib.error as e\n"
    "r = u.Request(sys.argv[1])\n"
    'len(sys.argv) > 2 and r.add_header("Authorization", "token " + open(sys.argv[2]).read().strip())\n'
    "try: print(u.urlopen(r, timeout=20).read().decode())\n"
    'except e.HTTPError as err: print("HTTP", err.code)\''
)


def scrape_exporter() -> Samples:
    """The Slurm exporter's metrics as Prometheus reads them, scraped from the monitoring host."""
    controller = hosts_of("slurm_controller")[0]
    done = on(hosts_of("monitoring")[0], f"{FETCH} http://{controller}:9817/metrics")
    assert done.returncode == 0, done.stderr
    return samples(done.stdout)


@pytest.fixture(scope="module", autouse=True)
def monitoring_host() -> str:
    if not hosts_of("monitoring"):
        pytest.fail("no monitoring host in the test cluster: run `make cluster`")
    return hosts_of("monitoring")[0]


def test_prometheus_scrapes_every_target():
    expected = {"prometheus", "hub", "proxy", "node", "slurm"}

    def all_up() -> bool:
        targets = prometheus("/api/v1/targets", state="active")["data"]["activeTargets"]
        return {t["labels"]["job"] for t in targets} == expected and all(t["health"] == "up" for t in targets)

    wait_for("every target up", all_up, 60, interval_s=1)
    nodes = {t["metric"]["instance"] for t in query('up{job="node"} == 1')}
    assert nodes == set(hosts_of("cluster") + hosts_of("monitoring"))  # not the Docker host (the developer's)
    assert query('probe_success{job="proxy"}')[0]["value"][1] == "1"
    assert float(query('probe_ssl_earliest_cert_expiry{job="proxy"}')[0]["value"][1]) > 0


def test_the_hubs_metrics_token_reads_metrics_and_nothing_else(monitoring_host):
    def hub(path: str) -> str:
        return on(monitoring_host, f"{FETCH} http://hub:8081{path} /etc/prometheus/hub-metrics-token").stdout

    assert "jupyterhub_running_servers" in hub("/hub/metrics")
    assert hub("/hub/api/users").strip() == "HTTP 403"
    assert on(monitoring_host, "stat -c '%U:%G %a' /etc/prometheus/hub-metrics-token").stdout.strip() == (
        "root:prometheus 640"
    )


def test_the_exporters_figures_are_squeues_and_sinfos(login, controller):
    held = as_user(login, "alice", "sbatch --parsable --hold --time=1 --account=m1000 --partition=debug --wrap true")
    running = as_user(login, "bob", "sbatch --parsable --time=2 --account=m2000 --partition=debug --wrap 'sleep 120'")
    assert held.rc == 0 and running.rc == 0, held.stderr + running.stderr
    node = hosts_of("compute")[-1]
    try:
        wait_for("the job running", lambda: controller.check_output(
            f"squeue -h -j {running.stdout.strip()} -o %T") == "RUNNING", 30)  # fmt: skip
        controller.check_output(f"scontrol update nodename={node} state=drain reason='monitoring test'")
        found = scrape_exporter()
        squeue = controller.check_output("squeue -h -a -r -o '%T|%P|%r'").splitlines()
        assert total(found, "slurm_jobs") == len(squeue)
        assert total(found, "slurm_jobs", state="RUNNING") == sum(line.startswith("RUNNING|") for line in squeue)
        assert total(found, "slurm_jobs_pending", partition="debug", reason="JobHeldUser") == sum(
            line == "PENDING|debug|JobHeldUser" for line in squeue)  # fmt: skip
        assert total(found, "slurm_jobs_pending", partition="debug", reason="JobHeldUser") >= 1
        state = controller.check_output(f"sinfo -h -n {node} -o %T").splitlines()[0]
        assert state in ("drained", "draining")
        assert total(found, "slurm_node_state", node=node, state=state, reason="monitoring test") == 1
        sinfo_states = {line.split()[0]: line.split()[1] for line in controller.check_output(
            "sinfo -h -N -o '%N %T'").splitlines()}  # fmt: skip
        for name, long_state in sinfo_states.items():
            assert total(found, "slurm_node_state", node=name, state=long_state.rstrip("*~#%$@^-!")) == 1, name
        assert total(found, "slurm_up") == 1 and total(found, "slurm_accounting_up") == 1
        # Prometheus has the same, a scrape later.
        wait_for("Prometheus sees the drained node", lambda: query(
            f'slurm_node_state{{node="{node}",reason="monitoring test"}}'), 30)  # fmt: skip
    finally:
        controller.run(f"scontrol update nodename={node} state=resume")
        controller.run(f"scancel {held.stdout.strip()} {running.stdout.strip()}")


def test_one_call_of_each_command_per_scrape_at_a_thousand_queued_jobs(login):
    array = as_user(login, "alice", "sbatch --parsable --hold --array=0-999 --time=1 --account=m1000 --wrap true")
    assert array.rc == 0, array.stderr
    job = array.stdout.strip()
    try:
        before = scrape_exporter()
        after = scrape_exporter()
        for command in ("squeue", "sinfo", "sdiag", "sacct"):
            calls = total(after, "slurm_exporter_commands_total", command=command)
            assert calls - total(before, "slurm_exporter_commands_total", command=command) == 1, command
        assert total(after, "slurm_jobs_pending", reason="JobHeldUser") >= 1000
        assert total(after, "slurm_exporter_scrape_seconds") < 5
    finally:
        as_user(login, "alice", f"scancel {job}")


def test_the_alerting_rules_pass_promtools_checks_and_unit_tests(monitoring_host):
    docker("cp", str(HERE / "alerts_test.yml"), f"{monitoring_host}:/etc/prometheus/rules-test.yml")
    try:
        checked = on(monitoring_host, "promtool check rules /etc/prometheus/rules/hpc-jupyterhub.yml")
        assert checked.returncode == 0, checked.stdout + checked.stderr
        tested = on(monitoring_host, "cd /etc/prometheus && promtool test rules rules-test.yml")
        assert tested.returncode == 0, tested.stdout + tested.stderr
    finally:
        on(monitoring_host, "rm -f /etc/prometheus/rules-test.yml")


def test_every_dashboard_query_runs_on_prometheus():
    """The admins' dashboard and the Grafana dashboard (hpchub.dashboard's PANELS): each query is valid PromQL
    over the metrics Prometheus has (a misspelt metric would answer nothing; the hub's and Slurm's are there)."""
    from hpchub.dashboard import PANELS

    for panel in PANELS:
        answer = prometheus("/api/v1/query", query=panel.expr)
        assert answer["status"] == "success", (panel.title, answer)
    for metric in ("jupyterhub_server_spawn_duration_seconds_bucket", "jupyterhub_active_users", "slurm_jobs_pending",
                   "slurm_nodes", "slurm_partition_cpus_allocated", "slurm_partition_gpus_allocated"):  # fmt: skip
        assert query(f"count({metric})"), f"Prometheus has no {metric}"
