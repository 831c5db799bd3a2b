"""The Slurm exporter (hpc_slurm.metrics, hpc_slurm.exporter): what Slurm 22.05's squeue, sinfo, sdiag and sacct
print, read into Prometheus's metrics, with one call of each command per scrape whatever the queue's size.
tests/infra/test_monitoring.py checks the same figures against the real controller."""

from __future__ import annotations

import threading
import urllib.request
from collections.abc import Sequence
from http.server import ThreadingHTTPServer

import pytest
from hpc_slurm import SlurmNotAnswering, contract, metrics
from hpc_slurm.exporter import Exporter, handler_for

# Slurm 22.05's own output for a held job, a running one, a job pending in two partitions, a running GPU job, a
# Jupyter server, its kernel and its Dask worker (the formats of metrics.SQUEUE and metrics.SINFO).
SQUEUE = """\
PENDING|debug|m1000|(null)|cpu=1,mem=4G,node=1,billing=1|wrap|JobHeldUser
RUNNING|debug|m1000|(null)|cpu=1,mem=100M,node=1,billing=1|wrap|None
PENDING|debug,interactive|m1000|(null)|cpu=1,mem=4G,node=1,billing=1|wrap|BeginTime
RUNNING|gpu|m1000|(null)|cpu=1,mem=4G,node=1,billing=1,gres/gpu=1|wrap|None
RUNNING|interactive|m2000|(null)|cpu=2,mem=2G,node=1,billing=2|jupyter-bob-gpu|None
RUNNING|interactive|m2000|hpchub-1430|cpu=1,mem=1G,node=1,billing=1|kernel-1a2b3c4d|None
PENDING|interactive|m2000|hpchub-1430|cpu=1,mem=1G,node=1,billing=1|dask-worker|Resources
"""
SINFO = """\
c1|debug*|draining|1/1/0/2|8192|(null)|disk check
c1|interactive|draining|1/1/0/2|8192|(null)|disk check
c2|debug*|mixed|1/1/0/2|8192|gpu:2|none
c2|gpu|mixed|1/1/0/2|8192|gpu:2|none
c3|debug*|down*|0/0/2/2|8192|gpu:tesla:4(S:0)|Not responding
login|login|idle|0/2/0/2|8192|(null)|none
"""
SDIAG = """\
Server thread count:  3
Agent queue size:     0
DBD Agent queue size: 7

Jobs submitted: 12
Jobs failed:    1

Main schedule statistics (microseconds):
\tLast cycle:   8
\tMax cycle:    1709
\tMean cycle:   354
\tCycles per minute: 2
\tLast queue length: 4

Backfilling stats
\tTotal backfilled jobs (since last slurm start): 5
\tLast cycle: 250
\tMax cycle:  900
\tLast queue length: 3

Remote Procedure Call statistics by message type
\tREQUEST_PARTITION_INFO                  ( 2009) count:5      ave_time:190    total_time:951
"""
SACCT = """\
COMPLETED|interactive|wrap|
CANCELLED by 0|debug|jupyter-alice|
NODE_FAIL|interactive|jupyter-bob|
TIMEOUT|interactive|kernel-9f8e7d6c|hpchub-1431
"""
OUTPUTS = {"squeue": SQUEUE, "sinfo": SINFO, "sdiag": SDIAG, "sacct": SACCT}


def samples(found: Sequence[metrics.Metric], name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return next(metric.samples for metric in found if metric.name == name)


def value(found: Sequence[metrics.Metric], name: str, **labels: str) -> float:
    return samples(found, name)[tuple(sorted(labels.items()))]


@pytest.fixture
def found() -> list[metrics.Metric]:
    return metrics.collect(lambda argv: OUTPUTS[argv[0]])


def test_jobs_by_state_partition_account_and_kind(found):
    assert value(found, "slurm_jobs", state="PENDING", partition="debug", account="m1000", kind="batch") == 1
    assert value(found, "slurm_jobs", state="RUNNING", partition="interactive", account="m2000", kind="server") == 1
    assert value(found, "slurm_jobs", state="RUNNING", partition="interactive", account="m2000", kind="kernel") == 1
    assert value(found, "slurm_jobs", state="PENDING", partition="interactive", account="m2000", kind="cluster") == 1
    assert sum(samples(found, "slurm_jobs").values()) == len(SQUEUE.splitlines())


def test_pending_jobs_by_partition_and_reason(found):
    assert samples(found, "slurm_jobs_pending") == {
        (("partition", "debug"), ("reason", "JobHeldUser")): 1,
        (("partition", "debug,interactive"), ("reason", "BeginTime")): 1,
        (("partition", "interactive"), ("reason", "Resources")): 1,
    }


def test_allocated_cpus_memory_and_gpus_count_running_jobs_only(found):
    assert value(found, "slurm_partition_cpus_allocated", partition="debug", kind="batch") == 1  # not the held 1
    assert value(found, "slurm_partition_memory_allocated_bytes", partition="debug", kind="batch") == 100 * 2**20
    assert value(found, "slurm_partition_gpus_allocated", partition="gpu", kind="batch") == 1
    assert value(found, "slurm_partition_cpus_allocated", partition="interactive", kind="server") == 2


def test_nodes_each_once_with_their_reason_and_partition_sizes(found):
    assert samples(found, "slurm_nodes") == {(("state", "draining"),): 1, (("state", "mixed"),): 1,
                                             (("state", "down"),): 1, (("state", "idle"),): 1}  # fmt: skip
    assert value(found, "slurm_node_state", node="c1", state="draining", reason="disk check") == 1
    assert value(found, "slurm_node_responding", node="c3") == 0
    assert value(found, "slurm_node_responding", node="c2") == 1
    assert value(found, "slurm_partition_cpus", partition="debug") == 6  # the default's '*' is not in the name
    assert value(found, "slurm_partition_gpus", partition="debug") == 6  # gpu:2 and gpu:tesla:4
    assert value(found, "slurm_partition_memory_bytes", partition="login") == 8192 * 2**20
    assert value(found, "slurm_partition_nodes", partition="debug", state="down") == 1


def test_the_schedulers_statistics_in_seconds(found):
    assert value(found, "slurm_scheduler_dbd_agent_queue_size") == 7
    assert value(found, "slurm_scheduler_cycle_max_seconds") == pytest.approx(0.001709)
    assert value(found, "slurm_backfill_cycle_last_seconds") == pytest.approx(0.00025)
    assert value(found, "slurm_backfill_jobs_since_start") == 5
    assert value(found, "slurm_scheduler_queue_length") == 4
    assert not any(metric.name.startswith("slurm_rpc") for metric in found)


def test_ended_jobs_by_how_they_ended(found):
    assert value(found, "slurm_jobs_ended", state="CANCELLED", partition="debug", kind="server") == 1
    assert value(found, "slurm_jobs_ended", state="TIMEOUT", partition="interactive", kind="kernel") == 1
    assert value(found, "slurm_up") == 1
    assert value(found, "slurm_accounting_up") == 1


def test_a_controller_or_accounting_not_answering_is_a_metric_not_an_error():
    def run(argv: Sequence[str]) -> str:
        if argv[0] in ("sinfo", "sacct"):
            raise SlurmNotAnswering(argv[0], "Unable to contact slurm controller")
        return OUTPUTS[argv[0]]

    found = metrics.collect(run)
    assert value(found, "slurm_up") == 0
    assert value(found, "slurm_accounting_up") == 0
    assert not any(metric.name == "slurm_jobs" for metric in found)


def test_the_job_kinds_follow_the_contract():
    assert metrics.job_kind(f"{contract.SERVER_JOB_PREFIX}alice", "") == "server"
    assert metrics.job_kind(f"{contract.KERNEL_JOB_PREFIX}12345678", contract.cluster_wckey("7")) == "kernel"
    assert metrics.job_kind("dask-worker", contract.cluster_wckey("7")) == "cluster"
    assert metrics.job_kind("jupyter-notebook-of-mine", "mywckey") == "server"  # a name alone cannot tell more


def test_render_is_prometheus_text_with_escaped_labels():
    metric = metrics.Metric("slurm_node_state", "a help")
    metric.add(1, node="c1", reason='disk "sda" failed\\ now')
    big = metrics.Metric("slurm_partition_memory_bytes", "bytes")
    big.add(123456789012, partition="debug")
    text = metrics.render([metric, big])
    assert text.splitlines() == [
        "# HELP slurm_node_state a help",
        "# TYPE slurm_node_state gauge",
        'slurm_node_state{node="c1",reason="disk \\"sda\\" failed\\\\ now"} 1',
        "# HELP slurm_partition_memory_bytes bytes",
        "# TYPE slurm_partition_memory_bytes gauge",
        'slurm_partition_memory_bytes{partition="debug"} 123456789012',
    ]


def test_one_call_of_each_command_per_scrape_at_a_thousand_jobs():
    queue = "".join(f"PENDING|debug|m1000|(null)|cpu=1,mem=1G,node=1|wrap-{i}|Priority\n" for i in range(1000))
    calls: list[str] = []

    def run(argv: Sequence[str]) -> str:
        calls.append(argv[0])
        return queue if argv[0] == "squeue" else OUTPUTS[argv[0]]

    exporter = Exporter(run)
    text = exporter.scrape()
    assert sorted(calls) == ["sacct", "sdiag", "sinfo", "squeue"]
    assert 'slurm_jobs_pending{partition="debug",reason="Priority"} 1000' in text
    assert 'slurm_exporter_commands_total{command="squeue"} 1' in text


def test_the_exporter_serves_metrics_over_http():
    exporter = Exporter(lambda argv: OUTPUTS[argv[0]])
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(exporter))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        with urllib.request.urlopen(f"{url}/metrics", timeout=5) as answer:
            assert answer.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            assert "slurm_up 1" in answer.read().decode()
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"{url}/other", timeout=5)
        assert missing.value.code == 404
    finally:
        server.shutdown()
        server.server_close()
