"""Where servers and kernels run (issue 18): a server on the login node (its own Slurm partition, shared, each
user limited by a QoS) beside one on a compute node; a notebook on the login-node server whose kernel runs as a
Slurm job on a compute node (the slurm-kernels package's provisioner, kernel specs from the inventory's
site_places: a place's kernel). Interrupt and restart work; stopping the server ends the kernel's job."""

from __future__ import annotations

import time
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.support.browser import log_in, run_first_cell, screenshot
from tests.support.docker import on
from tests.support.hubclient import HUB, json_of
from tests.support.infra import hosts_of
from tests.support.waiting import wait_for

DEBUG_KERNEL = "Python 3 on a compute node (debug, 1 CPU, 30 min)"
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
    msg_id = kernel.started("print('started', flush=True)\nimport time\ntime.sleep(600)")
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


HEADLESS = """
import nbformat, pathlib
notebook = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "slurm-debug", "display_name": "debug"}})
cell = "import os, socket\\nprint('RAN ON', socket.gethostname(), os.getuid())"
notebook.cells.append(nbformat.v4.new_code_cell(cell))
nbformat.write(notebook, pathlib.Path.home() / "headless-kernel.ipynb")
"""


def test_a_notebook_run_headless_with_a_compute_node_kernel(session_of):
    """papermill and `jupyter execute` from a shell on the login node start the notebook's kernel without Jupyter
    Server: the kernel spec works there too, its job runs the cells on a compute node and ends with the run."""
    session_of("alice")  # alice's home exists
    assert on("login", "/opt/jupyter/bin/python3 -", user="alice", stdin=HEADLESS).returncode == 0
    runs = {"papermill": "papermill headless-kernel.ipynb headless-kernel.out.ipynb",
            "jupyter execute": "cp headless-kernel.ipynb headless-kernel.exec.ipynb && "
                               "jupyter execute --inplace headless-kernel.exec.ipynb"}  # fmt: skip
    for name, command in runs.items():
        ran = on("login", f"cd && PATH=/opt/jupyter/bin:$PATH {command}", user="alice")
        assert ran.returncode == 0, (name, ran.stderr[-2000:])
    for output in ("headless-kernel.out.ipynb", "headless-kernel.exec.ipynb"):
        printed = on("login", f"cat ~/{output}", user="alice").stdout
        host, uid = printed.split("RAN ON ")[1].split("\\n")[0].split()
        assert host in set(hosts_of("compute")) and uid == "20001", (output, printed[-1000:])
    wait_for("the headless runs' kernel jobs gone", lambda: not kernel_jobs("alice"), 30, 0.5)


def test_in_the_browser_a_notebook_on_the_login_node_switches_to_a_compute_node_kernel(session_of, browser):
    """As a person does it: a notebook on the login-node server, its kernel changed (Kernel > Change Kernel) to
    the inventory's "Python 3 on a compute node", then the cell runs on a compute node, as alice."""
    alice = session_of("alice")
    reply = alice.api("POST", "/users/alice/servers/login", json={"user_options": {"place": "login", "time": 60}})
    assert reply.status_code in (201, 202), reply.text[:300]
    try:
        wait_for("the login-node server ready", lambda: bool(
            alice.api("GET", "/users/alice").json().get("servers", {}).get("login", {}).get("ready")), 120)  # fmt: skip
        token = alice.token()
        cell = {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                "source": "import os, socket\nprint('RAN ON', socket.gethostname(), os.getuid())"}  # fmt: skip
        notebook = {"cells": [cell], "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
                    "nbformat": 4, "nbformat_minor": 5}  # fmt: skip
        put = alice.put(f"{HUB}/user/alice/login/api/contents/kernel-switch.ipynb", json={"type": "notebook",
                        "content": notebook}, headers={"Authorization": f"token {token}"})  # fmt: skip
        assert put.status_code in (200, 201), put.text[:200]
        log_in(browser, "alice", f"{HUB}/hub/login?next=/user/alice/login/lab/tree/kernel-switch.ipynb%3Freset")
        switch_kernel_and_run(browser)
    except Exception:
        screenshot(browser, "kernel-switch-failed.png")
        raise
    finally:
        alice.api("DELETE", "/users/alice/servers/login", json={"remove": True})
        wait_for("alice's jobs gone", lambda: not jobs_of("alice"), 60, 0.5)


def switch_kernel_and_run(browser: Any) -> None:
    """Kernel > Change Kernel from the notebook's toolbar, as a person does; then run the cell (Shift+Enter)."""
    wait = WebDriverWait(browser, 60, poll_frequency=0.2)
    wait.until(ready.element_to_be_clickable((By.CSS_SELECTOR, ".jp-NotebookPanel .jp-Toolbar-kernelName")))
    wait.until(lambda b: "Python 3" in b.find_element(By.CSS_SELECTOR, ".jp-Toolbar-kernelName").text)
    browser.find_element(By.CSS_SELECTOR, ".jp-Toolbar-kernelName").click()
    dialog = wait.until(ready.visibility_of_element_located((By.CSS_SELECTOR, ".jp-Dialog")))
    Select(dialog.find_element(By.TAG_NAME, "select")).select_by_visible_text(DEBUG_KERNEL)
    dialog.find_element(By.CSS_SELECTOR, ".jp-Dialog-button.jp-mod-accept").click()
    wait.until(lambda b: DEBUG_KERNEL in b.find_element(By.CSS_SELECTOR, ".jp-Toolbar-kernelName").text)
    run_first_cell(browser)
    output = WebDriverWait(browser, 90, poll_frequency=0.2).until(
        lambda b: next((o.text for o in b.find_elements(By.CSS_SELECTOR, ".jp-OutputArea-output")
                        if "RAN ON" in o.text), False))  # fmt: skip
    host, uid = output.replace("RAN ON", "").split()
    assert host in set(hosts_of("compute")) and uid == "20001", output
    screenshot(browser, "kernel-on-a-compute-node.png")
