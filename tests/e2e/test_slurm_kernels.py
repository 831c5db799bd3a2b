"""Where servers and kernels run (issue 18): a server on the login node (its own Slurm partition, shared, each
user limited by a QoS) beside one on a compute node; a notebook on the login-node server whose kernel runs as a
Slurm job on a compute node (the slurm-kernels package's provisioner, kernel specs from the inventory's
notebook_env_slurm_kernels). Interrupt and restart work; stopping the server ends the kernel's job."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.support.docker import on
from tests.support.hubclient import HUB, json_of
from tests.support.infra import hosts_of
from tests.support.waiting import wait_for

OPTIONS = {"login": {"partition": "login", "time": 600}, "compute": {"partition": "debug", "time": 20}}


def jobs_of(user: str) -> dict[str, dict[str, str]]:
    """The user's Slurm jobs by name: id, state, partition, node, wckey, account."""
    out = on("slurmctld", f"squeue --noheader --user={user} --format='%j|%i|%T|%P|%N|%w|%a'").stdout
    keys = ("id", "state", "partition", "node", "wckey", "account")
    return {line.split("|")[0]: dict(zip(keys, line.split("|")[1:], strict=True)) for line in out.splitlines() if line}


def kernel_jobs(user: str) -> dict[str, dict[str, str]]:
    return {name: job for name, job in jobs_of(user).items() if name.startswith("kernel-")}


def interrupted(kernel: Any, session: Any) -> str:
    """Run a long cell, interrupt it through the server's REST API once it runs; what the cell ended with."""
    msg_id = kernel.send("print('started', flush=True)\nimport time\ntime.sleep(600)")
    while True:  # until the cell has printed: it runs
        message = json.loads(kernel.ws.recv())
        if message.get("parent_header", {}).get("msg_id") == msg_id and message["header"]["msg_type"] == "stream":
            break
    reply = session.post(f"{kernel.api}/kernels/{kernel.id}/interrupt", headers=kernel.auth)
    assert reply.status_code == 204, reply.text[:200]
    with pytest.raises(AssertionError) as failed:
        kernel.outcome(msg_id)
    return str(failed.value)


def test_a_login_node_server_beside_a_compute_server_and_its_kernel_as_a_slurm_job(session_of):
    alice = session_of("alice")
    compute_nodes = set(hosts_of("compute"))

    def servers() -> dict[str, Any]:
        return dict(alice.api("GET", "/users/alice").json().get("servers", {}))

    try:
        for name, options in OPTIONS.items():
            reply = alice.api("POST", f"/users/alice/servers/{name}", json={"user_options": options})
            assert reply.status_code in (201, 202), reply.text[:300]
        wait_for("both servers ready", lambda: all(servers().get(n, {}).get("ready") for n in OPTIONS), 120)
        jobs = jobs_of("alice")
        login, compute = jobs["jupyter-alice-login"], jobs["jupyter-alice-compute"]
        assert (login["state"], login["partition"], login["node"]) == ("RUNNING", "login", "login"), jobs
        assert (compute["partition"], compute["node"] in compute_nodes) == ("debug", True), jobs
        home = alice.get(f"{HUB}/hub/home").text
        assert '"server-place">login<' in home and f'"server-job">{login["id"]}<' in home

        # The login-node server offers the kernels of the inventory; one runs as a Slurm job on a compute node.
        specs = json_of(alice.server_get("login/api/kernelspecs"))["kernelspecs"]
        assert specs["slurm-debug"]["spec"]["display_name"] == "Python 3 on a compute node (debug, 1 CPU, 30 min)"
        started = time.monotonic()
        with alice.kernel(120, name="slurm-debug", server="login") as kernel:
            ready_s = time.monotonic() - started
            host, uid, partition = kernel.run(
                "import os, socket\nprint(socket.gethostname(), os.getuid(), os.environ['SLURM_JOB_PARTITION'])"
            ).split()
            assert host in compute_nodes and uid == "20001" and partition == "debug", (host, uid, partition)
            [(name, job)] = kernel_jobs("alice").items()
            assert name == f"kernel-{kernel.id[:8]}" and job["node"] == host, job
            # Charged to the server's project, and tagged to end with the server (the node Epilog's sweep).
            assert job["account"] == "m1000" and job["wckey"] == f"hpchub-{login['id']}", job

            assert "KeyboardInterrupt" in interrupted(kernel, alice)
            assert kernel.run("print(6 * 7)") == "42\n"  # the kernel lives on after the interrupt

            kernel.run("kept = 1")
            reply = alice.post(f"{kernel.api}/kernels/{kernel.id}/restart", headers=kernel.auth, timeout=120)
            assert reply.status_code == 200, reply.text[:300]
            kernel.reconnect()  # as JupyterLab does after a restart: the new kernel listens on other ports
            wait_for("the first kernel job gone", lambda: job["id"] not in
                     {j["id"] for j in kernel_jobs("alice").values()}, 30, 0.5)  # fmt: skip
            [restarted] = kernel_jobs("alice").values()
            assert restarted["id"] != job["id"] and restarted["state"] == "RUNNING", restarted
            assert kernel.run("print('kept' in globals())") == "False\n"  # a new kernel, in a new job

            # Stopping the server ends its kernel's job.
            alice.api("DELETE", "/users/alice/servers/login")
            wait_for("the kernel's job gone with the server", lambda: not kernel_jobs("alice"), 60, 0.5)
        assert "jupyter-alice-compute" in jobs_of("alice")  # the other server runs on
        print(f"kernel job ready in {ready_s:.1f} s (request to the kernel's start)")
    finally:
        for name in OPTIONS:
            alice.api("DELETE", f"/users/alice/servers/{name}", json={"remove": True})
        wait_for("alice's jobs gone", lambda: not jobs_of("alice"), 60, 0.5)


def test_the_login_node_limits_each_user(session_of):
    """More than a user's share of the login node is refused: by the place's ranges in the form and REST, and by
    Slurm's QoS (MaxTRESPerUser cpu=2,mem=4G, DenyOnLimit) for a job submitted from a shell."""
    alice = session_of("alice")
    reply = alice.api("POST", "/users/alice/server", json={"place": "login", "memory": "6G"})
    assert reply.status_code == 400 and "memory: must be from 256M to 4096M at login" in reply.text, reply.text[:300]
    assert not alice.server() and not jobs_of("alice")
    refused = on("login", "su - alice -c 'sbatch --partition=login --mem=6G --wrap true'")
    assert refused.returncode != 0 and "QOS" in refused.stderr + refused.stdout, refused.stderr
