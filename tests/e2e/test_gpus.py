"""GPUs as a Slurm generic resource: c2 declares two (a count, no device), the gpu partition is c2, and each
project's MaxTRES gres/gpu limits them: m1000 may use 2, m2000 none (inventories/local)."""

from __future__ import annotations

import html
import json

from tests.support.cluster import accounted_jobs, slurm_jobs
from tests.support.docker import on
from tests.support.hubclient import HUB
from tests.support.waiting import wait_for


def test_a_gpu_server_lands_on_the_gpu_node_with_its_gpus_accounted(session_of):
    erin = session_of("erin")
    page = erin.get(f"{HUB}/hub/spawn/erin")
    # The gpu place's GPUs field: 1 to 2 (m1000 allows 2; c2 has 2), filled in when the place is chosen.
    assert 'name="gpus"' in page.text and '"gpus": {"min": 1, "max": 2' in html.unescape(page.text)
    assert "gpu: up to 1 nodes, 2 CPUs and 8192 MB per node, 240 min, 2 GPUs per node" in page.text
    reply = erin.api("POST", "/users/erin/server", json={"partition": "gpu", "account": "m1000", "gpus": 1})
    assert reply.status_code in (201, 202), reply.text[:300]
    erin.wait_ready(120)
    [job] = slurm_jobs("erin")
    shown = on("slurmctld", f"scontrol show job {job}").stdout
    assert "Partition=gpu" in shown and "NodeList=c2" in shown and "gres/gpu=1" in shown, shown
    seen = json.loads(erin.run_in_kernel("import json, socket; print(json.dumps(socket.gethostname()))"))
    assert seen == "c2"
    erin.stop()
    accounted = on("slurmctld", f"sacct --noheader -X --jobs={job} --format=AllocTRES%80").stdout
    assert "gres/gpu=1" in accounted, accounted


def test_a_user_whose_project_allows_no_gpu_is_refused_in_the_form_and_by_rest(session_of):
    dave = session_of("dave")  # m2000 only: max_gpus 0
    page = dave.get(f"{HUB}/hub/spawn/dave")
    assert page.status_code == 200 and 'name="place"' in page.text and 'name="gpus"' not in page.text
    accounted = accounted_jobs("dave")
    for reply in (
        dave.api("POST", "/users/dave/server", json={"partition": "gpu", "account": "m2000", "gpus": 1}),
        dave.submit_form(partition="gpu", account="m2000", gpus="1"),
    ):
        assert reply.status_code == 400, reply.text[:300]
        assert "project m2000 allows no GPUs" in reply.text
    assert not dave.server() and accounted_jobs("dave") == accounted


def test_a_gpu_kernel_runs_on_the_gpu_node_and_a_project_without_gpus_is_told_why(session_of):
    """The inventory's GPU kernel (site_places: the gpu place's kernel, slurm-gpu) from a server on a CPU node: its job
    lands on c2 with a GPU; dave's project allows none, and starting the kernel says why, with no job left."""
    erin = session_of("erin")
    assert erin.api("POST", "/users/erin/server", json={"partition": "debug"}).status_code in (201, 202)
    erin.wait_ready(120)
    with erin.kernel(120, name="slurm-gpu") as kernel:
        host, gpus = kernel.run("import os, socket\nprint(socket.gethostname(), os.environ['SLURM_JOB_GPUS'])").split()
        assert host == "c2" and gpus in ("0", "1"), (host, gpus)
    dave = session_of("dave")
    assert dave.api("POST", "/users/dave/server", json={"partition": "debug"}).status_code in (201, 202)
    dave.wait_ready(120)
    token = dave.token()
    reply = dave.post(f"{HUB}/user/dave/api/kernels", headers={"Authorization": f"token {token}"},
                      json={"name": "slurm-gpu"}, timeout=120)  # fmt: skip
    assert reply.status_code == 500, reply.text[:300]
    assert "kernel's job" in reply.text, reply.text[:500]

    def daves_kernel_jobs() -> list[str]:
        names = on("slurmctld", "squeue --noheader --user=dave --format=%j").stdout.split()
        return [name for name in names if name.startswith("kernel-")]

    wait_for("no kernel job of dave's left", lambda: not daves_kernel_jobs(), 30, 0.5)
