"""The running local deployment as the benchmarks see it: commands on its containers, their resources."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

from tests.support.docker import ROOT
from tests.support.docker import docker as run_docker


def docker(*args: str) -> str:
    """`docker ARGS`' output (raises on failure)."""
    return run_docker(*args).stdout


def container_ip(name: str, network: str = "hpcjh") -> str:
    template = f'{{{{(index .NetworkSettings.Networks "{network}").IPAddress}}}}'
    return docker("inspect", "--format", template, name).strip()


def compute_nodes() -> list[str]:
    out = docker("ps", "--filter", "label=io.github.hpc-jupyterhub-deploy.group=compute", "--format", "{{.Names}}")
    return sorted(out.split())


class CpuMeter:
    """CPU seconds and memory of a container from its cgroup (v1 or v2): cheap enough to sample often."""

    def __init__(self, name: str) -> None:
        self.name = name
        cid = docker("inspect", "--format", "{{.Id}}", name).strip()
        v1 = Path(f"/sys/fs/cgroup/cpuacct/docker/{cid}/cpuacct.usage")
        self.v2 = Path(f"/sys/fs/cgroup/system.slice/docker-{cid}.scope")
        self.cpu_file = v1 if v1.exists() else self.v2 / "cpu.stat"
        mem_v1 = Path(f"/sys/fs/cgroup/memory/docker/{cid}/memory.usage_in_bytes")
        self.mem_file = mem_v1 if mem_v1.exists() else self.v2 / "memory.current"

    def cpu_seconds(self) -> float:
        text = self.cpu_file.read_text()
        if self.cpu_file.name == "cpu.stat":
            usec = next(int(line.split()[1]) for line in text.splitlines() if line.startswith("usage_usec"))
            return usec / 1e6
        return int(text) / 1e9

    def memory_mb(self) -> float:
        return int(self.mem_file.read_text()) / 2**20


def machine_cpu_seconds() -> float:
    """CPU seconds this machine has spent (all cores, every process: containers, dockerd, the bench itself)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    busy = sum(fields[:3]) + sum(fields[5:8])  # user nice system, irq softirq steal; not idle nor iowait
    return busy / os.sysconf("SC_CLK_TCK")


def idle_memory_mb(names: list[str]) -> dict[str, float]:
    """Memory in use as `docker stats` counts it (without the page cache)."""
    out = docker("stats", "--no-stream", "--format", "{{json .}}", *names)
    usage = {}
    for line in out.splitlines():
        row = json.loads(line)
        amount, unit = row["MemUsage"].split("/")[0].strip()[:-3], row["MemUsage"].split("/")[0].strip()[-3:]
        usage[row["Name"]] = float(amount) * {"KiB": 1 / 1024, "MiB": 1, "GiB": 1024}.get(unit, 1)
    return usage


def image_sizes_mb(images: list[str]) -> dict[str, float]:
    return {image: int(docker("image", "inspect", "--format", "{{.Size}}", image)) / 1e6 for image in images}


def timed(argv: list[str], log: Path) -> float:
    started = time.monotonic()
    with log.open("w") as out:
        done = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed (exit {done.returncode}); see {log}")
    return time.monotonic() - started
