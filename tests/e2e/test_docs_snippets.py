"""The documentation's commands, run as their reader would run them: the local-cluster tutorial's login-shell
commands as a user, the backup how-to's commands as the operator, and a user's own kernel made as
docs/how-to/add-an-environment.md says, offered by Jupyter and running a notebook in that environment."""

from __future__ import annotations

import json
import re
import shlex
import sqlite3
import subprocess
from pathlib import Path

from tests.support.docker import on

ROOT = Path(__file__).resolve().parents[2]
USER = "dave"


def section_commands(page: str, heading: str) -> list[str]:
    """The lines of the shell snippets in the section `heading` of a docs page, without their comments."""
    section = re.split(r"^## ", (ROOT / page).read_text().split(f"## {heading}\n", 1)[1], flags=re.MULTILINE)[0]
    bodies = re.findall(r"^```sh\n(.*?)^```$", section, re.MULTILINE | re.DOTALL)
    assert bodies, f"{page}: no shell snippet under {heading!r}"
    lines = [line for body in bodies for line in body.splitlines() if line.strip()]
    return [line.split("  #", 1)[0].strip() for line in lines]


NOTEBOOK = {
    "cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
               "source": "import sys, ipykernel\nprint('PREFIX', sys.prefix, 'FROM', ipykernel.__file__)"}],
    "metadata": {"kernelspec": {"name": "analysis", "display_name": "Python (analysis)"}},
    "nbformat": 4, "nbformat_minor": 5,
}  # fmt: skip


CLEAN = "rm -rf ~/envs/analysis ~/.local/share/jupyter/kernels/*analysis* ~/own-kernel.ipynb"
WHERE = (
    "import os, socket, sys, ipykernel\nprint('PREFIX', sys.prefix, 'FROM', ipykernel.__file__, 'ON',"
    " socket.gethostname(), 'THREADS', os.environ.get('OMP_NUM_THREADS', 'unset'))"
)


def run_notebook(kernel: str) -> subprocess.CompletedProcess[str]:
    """The one-cell notebook in `kernel`, run headless on the login node as the user (jupyter execute)."""
    notebook = {**NOTEBOOK, "metadata": {"kernelspec": {"name": kernel, "display_name": kernel}}}
    notebook["cells"] = [{**NOTEBOOK["cells"][0], "source": WHERE}]
    written = on("login", "cat > ~/own-kernel.ipynb", user=USER, stdin=json.dumps(notebook))
    assert written.returncode == 0, written.stderr
    return on("login", "cd && /opt/jupyter/bin/jupyter execute --inplace own-kernel.ipynb", user=USER)


def test_a_users_own_kernel_as_the_how_to_says(session_of):
    """Their venv as a kernel on the server, and with hpc-kernel as a kernel on a compute node; then the venv
    deleted: each kernel says so when started."""
    session_of(USER)  # the user's home exists
    home = on("login", "echo $HOME", user=USER, login=True).stdout.strip()
    on("login", CLEAN, user=USER)
    try:
        for command in section_commands("docs/how-to/add-an-environment.md", "For one user: their own kernel"):
            ran = on("login", command, user=USER, login=True)
            assert ran.returncode == 0, (command, ran.stderr[-1500:])
        specs = json.loads(on("login", "/opt/jupyter/bin/jupyter kernelspec list --json", user=USER).stdout)
        analysis, on_debug = (specs["kernelspecs"][name]["spec"] for name in ("analysis", "slurm-debug-analysis"))
        assert analysis["display_name"] == "Python (analysis)"
        assert analysis["argv"][0] == on_debug["argv"][0] == f"{home}/envs/analysis/bin/python"
        assert on_debug["display_name"] == "analysis on a compute node (debug, 1 CPU, 30 min)"
        computes = set(on("slurmctld", "sinfo --noheader --partition=debug --format=%n").stdout.split())
        # With --module, the kernels load hpc-defaults/1.0 (OMP_NUM_THREADS=1) first, on the server and on a node.
        assert specs["kernelspecs"]["analysis-omp"]["spec"]["display_name"] == "analysis-omp (module hpc-defaults/1.0)"
        for kernel, hosts, threads in (
            ("analysis", {"login"}, "unset"),
            ("slurm-debug-analysis", computes, "unset"),
            ("analysis-omp", {"login"}, "1"),
            ("slurm-debug-analysis-omp", computes, "1"),
        ):
            ran = run_notebook(kernel)
            assert ran.returncode == 0, (kernel, ran.stderr[-1500:])
            printed = on("login", "cat ~/own-kernel.ipynb", user=USER).stdout
            shown = re.search(r"PREFIX (\S+) FROM (\S+) ON (\w+) THREADS (\w+)", printed)
            assert shown, printed[-1000:]
            assert shown[1] == f"{home}/envs/analysis" and shown[2].startswith(f"{home}/envs/analysis/lib/")
            assert shown[3] in hosts and shown[4] == threads, (kernel, shown.groups(), hosts)
        on("login", "rm -rf ~/envs/analysis", user=USER)
        for kernel in ("analysis", "slurm-debug-analysis", "slurm-debug-analysis-omp"):
            ran = run_notebook(kernel)
            assert ran.returncode != 0
            assert f"{home}/envs/analysis/bin/python" in ran.stderr, (kernel, ran.stderr[-1500:])
        assert "is missing (was its environment deleted?)" in ran.stderr, ran.stderr[-1500:]
        names = on("slurmctld", f"squeue --noheader --user={USER} --format=%j").stdout.split()
        assert not [name for name in names if name.startswith("kernel-")], names  # nothing was submitted
    finally:
        on("login", CLEAN, user=USER)


def test_the_tutorials_login_shell_commands_as_a_user(session_of):
    session_of("alice")  # alice's home exists
    shell, *commands = section_commands("docs/tutorials/local-cluster.md", "4. Look at it from a login shell")
    assert shell == "docker exec -it login su - alice"

    def as_alice(command: str) -> subprocess.CompletedProcess[str]:  # in the shell the tutorial opens
        return on("login", f"su - alice -c {shlex.quote(command)}")

    as_alice("rm -f $SCRATCH/out")
    outputs = []
    for command in commands:
        ran = as_alice(command)
        assert ran.returncode == 0, (command, ran.stderr[-1000:])
        outputs.append(ran.stdout)
    assert len(set(outputs[0].split())) == 2, outputs[0]  # srun -N2 hostname: both compute nodes
    job = outputs[1].split()[-1]  # "Submitted batch job N"
    waited = as_alice(f"while squeue -h -j {job} | grep -q .; do sleep 0.2; done; cat $SCRATCH/out")
    assert waited.returncode == 0 and waited.stdout.strip(), waited.stderr


def test_the_backup_commands_as_the_operator(tmp_path):
    for command in section_commands("docs/how-to/backup-restore.md", "Back up"):
        ran = subprocess.run(command, shell=True, cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert ran.returncode == 0, (command, ran.stderr[-1000:])
    hub = sqlite3.connect(tmp_path / "jupyterhub-backup.sqlite")
    assert hub.execute("SELECT count(*) FROM users").fetchone()[0] >= 1
    assert "_job_table` (" in (tmp_path / "slurm_acct_db.sql").read_text()  # CREATE TABLE `CLUSTER_job_table` (
