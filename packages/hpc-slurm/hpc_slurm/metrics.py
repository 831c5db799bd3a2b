"""Slurm's state as Prometheus metrics, from one squeue, sinfo, sdiag and sacct each, whatever the queue's size.

Debian's Slurm 22.05 has no metrics endpoint and no exporter is packaged; `hpc_slurm.exporter` serves these.
A scrape reads the three commands' text (never one command per job or per node) and `render` writes Prometheus's
text format:

- jobs by state, partition, account and kind: a Jupyter server's job (`contract.SERVER_JOB_PREFIX`), a Slurm
  kernel's (`KERNEL_JOB_PREFIX`, tagged with its server's wckey), a server's Dask or IPython Parallel cluster (the
  server's wckey), or any other job; pending jobs by partition and Slurm's reason;
- CPUs, memory and GPUs allocated to running jobs per partition (their `tres-alloc`), and each partition's size;
- nodes by state, and each node's state with Slurm's reason (a drained node says why);
- the scheduler's own statistics (`sdiag`): cycle times, queue lengths, RPC agents;
- jobs that ended in the last `ENDED_WINDOW_S` by how they ended (`sacct`, the one call to slurmdbd): failures by
  reason; and whether slurmctld and slurmdbd answered at all (`slurm_up`, `slurm_accounting_up`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from hpc_slurm import contract
from hpc_slurm.command import SlurmError
from hpc_slurm.durations import parse_memory_mb
from hpc_slurm.states import base_state

# The one call of each command per scrape. '|' ends each field; the free-text field (a reason) is the last.
SQUEUE = ["squeue", "--noheader", "--all", "--array",
          "--Format=State:|,Partition:|,Account:|,WCKey:|,tres-alloc:|,Name:|,Reason:"]  # fmt: skip
SINFO = ["sinfo", "--noheader", "--Node",
         "--Format=NodeHost:|,Partition:|,StateLong:|,CPUsState:|,Memory:|,Gres:|,Reason:"]  # fmt: skip
SDIAG = ["sdiag"]
ENDED_WINDOW_S = 300
ENDED_STATES = "BF,CA,CD,DL,F,NF,OOM,PR,TO"  # every state a job ends in
SACCT = ["sacct", "--allusers", "--noheader", "--parsable2", "--allocations", f"--state={ENDED_STATES}",
         f"--starttime=now-{ENDED_WINDOW_S}", "--endtime=now", "--format=State,Partition,JobName,WCKey"]  # fmt: skip
ALLOCATING = frozenset({"RUNNING", "COMPLETING", "SUSPENDED"})  # states whose tres-alloc is held, not asked for
_GPUS = re.compile(r"(?:^|,)gres/gpu(?::[^=,]+)?=(\d+)")
_GRES_GPUS = re.compile(r"^gpu(?::[^:(,]+)?:(\d+)")
_MB = 1024 * 1024
# sdiag's lines -> (metric, help, unit factor); times in microseconds become seconds.
_SDIAG = {
    "Server thread count": ("slurm_scheduler_threads", "slurmctld's server threads", 1),
    "Agent queue size": ("slurm_scheduler_agent_queue_size", "RPCs queued for slurmctld's agents", 1),
    "DBD Agent queue size": ("slurm_scheduler_dbd_agent_queue_size", "messages queued for slurmdbd", 1),
    "Jobs submitted": ("slurm_scheduler_jobs_submitted", "jobs submitted since sdiag's last reset", 1),
    "Jobs started": ("slurm_scheduler_jobs_started", "jobs started since sdiag's last reset", 1),
    "Jobs completed": ("slurm_scheduler_jobs_completed", "jobs completed since sdiag's last reset", 1),
    "Jobs canceled": ("slurm_scheduler_jobs_canceled", "jobs cancelled since sdiag's last reset", 1),
    "Jobs failed": ("slurm_scheduler_jobs_failed", "jobs failed since sdiag's last reset", 1),
}
_SDIAG_CYCLES = {  # (section, line) -> metric
    ("main", "Last cycle"): ("slurm_scheduler_cycle_last_seconds", "the main scheduler's last cycle", 1e-6),
    ("main", "Max cycle"): ("slurm_scheduler_cycle_max_seconds", "the main scheduler's longest cycle", 1e-6),
    ("main", "Mean cycle"): ("slurm_scheduler_cycle_mean_seconds", "the main scheduler's mean cycle", 1e-6),
    ("main", "Cycles per minute"): ("slurm_scheduler_cycles_per_minute", "main scheduler cycles per minute", 1),
    ("main", "Last queue length"): ("slurm_scheduler_queue_length", "jobs the main scheduler last looked at", 1),
    ("backfill", "Last cycle"): ("slurm_backfill_cycle_last_seconds", "the backfill scheduler's last cycle", 1e-6),
    ("backfill", "Max cycle"): ("slurm_backfill_cycle_max_seconds", "the backfill scheduler's longest cycle", 1e-6),
    ("backfill", "Last queue length"): ("slurm_backfill_queue_length", "jobs backfill last looked at", 1),
    ("backfill", "Total backfilled jobs (since last slurm start)"):
        ("slurm_backfill_jobs_since_start", "jobs started by backfill since slurmctld's start", 1),
}  # fmt: skip


@dataclass
class Metric:
    """One metric family: its samples by their labels."""

    name: str
    help: str
    kind: str = "gauge"
    samples: dict[tuple[tuple[str, str], ...], float] = field(default_factory=dict)

    def add(self, value: float, **labels: str) -> None:
        key = tuple(sorted(labels.items()))
        self.samples[key] = self.samples.get(key, 0.0) + value


def job_kind(name: str, wckey: str) -> str:
    """What a job is to the service: `server`, `kernel`, `cluster` (a server's Dask/IPyParallel job) or `batch`."""
    if wckey.startswith(contract.WCKEY_PREFIX):
        return "kernel" if name.startswith(contract.KERNEL_JOB_PREFIX) else "cluster"
    return "server" if name.startswith(contract.SERVER_JOB_PREFIX) else "batch"


def _fields(text: str, count: int) -> Iterable[list[str]]:
    for line in text.splitlines():
        if line.strip():
            parts = line.split("|", count - 1)
            if len(parts) == count:
                yield [part.strip() for part in parts]


def _tres(tres: str) -> tuple[float, float, float]:
    """CPUs, memory (bytes) and GPUs in a tres-alloc string (cpu=2,mem=4G,node=1,gres/gpu=1)."""
    values = dict(item.split("=", 1) for item in tres.split(",") if "=" in item)
    try:
        cpus = float(values.get("cpu", 0))
        memory = parse_memory_mb(values["mem"]) * _MB if "mem" in values else 0.0
    except ValueError:
        cpus, memory = 0.0, 0.0
    return cpus, memory, float(sum(int(n) for n in _GPUS.findall(tres)))


def jobs_metrics(squeue: str) -> list[Metric]:
    jobs = Metric("slurm_jobs", "jobs in Slurm's queue by state, partition, account and kind")
    pending = Metric("slurm_jobs_pending", "pending jobs by partition and Slurm's reason")
    cpus = Metric("slurm_partition_cpus_allocated", "CPUs allocated to running jobs")
    memory = Metric("slurm_partition_memory_allocated_bytes", "memory allocated to running jobs")
    gpus = Metric("slurm_partition_gpus_allocated", "GPUs allocated to running jobs")
    for state, partition, account, wckey, tres, name, reason in _fields(squeue, 7):
        state = base_state(state)
        kind = job_kind(name, "" if wckey == "(null)" else wckey)
        jobs.add(1, state=state, partition=partition, account=account, kind=kind)
        if state == "PENDING":
            pending.add(1, partition=partition, reason=reason)
        elif state in ALLOCATING:
            held = _tres(tres)
            cpus.add(held[0], partition=partition, kind=kind)
            memory.add(held[1], partition=partition, kind=kind)
            gpus.add(held[2], partition=partition, kind=kind)
    return [jobs, pending, cpus, memory, gpus]


def node_state(state: str) -> tuple[str, bool]:
    """sinfo's long state without its flags (power saving, reboot, maintenance), and whether the node responds
    ('down*': its slurmd does not)."""
    responding = not state.endswith("*")
    return state.rstrip("*~#%$@^-!+").lower() or "unknown", responding


def nodes_metrics(sinfo: str) -> list[Metric]:
    nodes = Metric("slurm_nodes", "nodes by state (each node once)")
    node = Metric("slurm_node_state", "1 for each node's state, with Slurm's reason (a drained node says why)")
    responding = Metric("slurm_node_responding", "1 when slurmctld hears the node's slurmd, 0 when not")
    size_cpus = Metric("slurm_partition_cpus", "CPUs of the partition's nodes")
    size_memory = Metric("slurm_partition_memory_bytes", "memory of the partition's nodes")
    size_gpus = Metric("slurm_partition_gpus", "GPUs of the partition's nodes")
    part_nodes = Metric("slurm_partition_nodes", "the partition's nodes by state")
    seen: set[str] = set()
    for host, partition, long_state, cpu_state, memory, gres, reason in _fields(sinfo, 7):
        state, answers = node_state(long_state)
        partition = partition.rstrip("*")  # the default partition's mark
        part_nodes.add(1, partition=partition, state=state)
        total = cpu_state.split("/")[-1]
        size_cpus.add(float(total) if total.isdigit() else 0.0, partition=partition)
        size_memory.add(float(memory) * _MB if memory.isdigit() else 0.0, partition=partition)
        count = _GRES_GPUS.match(gres)
        size_gpus.add(float(count.group(1)) if count else 0.0, partition=partition)
        if host in seen:
            continue
        seen.add(host)
        nodes.add(1, state=state)
        node.add(1, node=host, state=state, reason="" if reason == "none" else reason)
        responding.add(1.0 if answers else 0.0, node=host)
    return [nodes, node, responding, size_cpus, size_memory, size_gpus, part_nodes]


def _number(text: str) -> float | None:
    word = text.split()[0] if text.split() else ""
    try:
        return float(word)
    except ValueError:
        return None


def scheduler_metrics(sdiag: str) -> list[Metric]:
    found: dict[str, Metric] = {}
    section = ""
    for line in sdiag.splitlines():
        if line.startswith("Main schedule statistics"):
            section = "main"
        elif line.startswith("Backfilling stats"):
            section = "backfill"
        elif line.startswith("Remote Procedure Call"):
            section = "rpc"
        if ":" not in line:
            continue
        label, _, rest = line.partition(":")
        label = label.strip()
        spec = _SDIAG.get(label) if not line.startswith("\t") else _SDIAG_CYCLES.get((section, label))
        value = _number(rest)
        if spec is not None and value is not None:
            name, text, factor = spec
            found.setdefault(name, Metric(name, text)).add(value * factor)
    return list(found.values())


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def render(metrics: Sequence[Metric]) -> str:
    """Prometheus's text exposition format (version 0.0.4)."""
    lines: list[str] = []
    for metric in metrics:
        lines += [f"# HELP {metric.name} {metric.help}", f"# TYPE {metric.name} {metric.kind}"]
        for labels, value in sorted(metric.samples.items()):
            inside = ",".join(f'{key}="{_escape(text)}"' for key, text in labels)
            number = str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)
            lines.append(f"{metric.name}{{{inside}}} {number}" if inside else f"{metric.name} {number}")
    return "\n".join(lines) + "\n"


def ended_metrics(sacct: str) -> list[Metric]:
    ended = Metric("slurm_jobs_ended", f"jobs that ended in the last {ENDED_WINDOW_S} s by state, partition and kind")
    for line in sacct.splitlines():
        parts = line.split("|")
        if len(parts) == 4:
            state, partition, name, wckey = parts
            ended.add(1, state=base_state(state), partition=partition, kind=job_kind(name, wckey))
    return [ended]


def collect(run: Callable[[Sequence[str]], str]) -> list[Metric]:
    """Every metric, from one call of each command through `run` (hpc_slurm.run, or a test's fake).

    A command that fails leaves its metrics out: `slurm_up` says whether slurmctld answered (squeue, sinfo, sdiag)
    and `slurm_accounting_up` whether slurmdbd did (sacct); `hpc_slurm.command`'s errors are the failures.
    """
    metrics: list[Metric] = []
    controller = Metric("slurm_up", "1 when slurmctld answered this scrape's squeue, sinfo and sdiag")
    accounting = Metric("slurm_accounting_up", "1 when slurmdbd answered this scrape's sacct")
    try:
        metrics += [*jobs_metrics(run(SQUEUE)), *nodes_metrics(run(SINFO)), *scheduler_metrics(run(SDIAG))]
        controller.add(1)
    except SlurmError:
        controller.add(0)
    try:
        metrics += ended_metrics(run(SACCT))
        accounting.add(1)
    except SlurmError:
        accounting.add(0)
    return [controller, accounting, *metrics]
