"""The production path of notebook_env: the locked environment installed on a bare Debian host."""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import testinfra

from tests.support.docker import ROOT
from tests.support.infra import VENV_BIN

LOCK = ROOT / "images/notebook/requirements.txt"
BASE = os.environ.get("BASE_IMAGE") or "debian:bookworm-slim"
PLAYBOOK = f"""
- name: Apply the production roles to a bare node
  hosts: all
  gather_facts: false
  roles:
    - role: common
      vars:
        common_site_ca_bundle: "{os.environ.get("CA_BUNDLE") or "/etc/ssl/certs/ca-certificates.crt"}"
    - role: notebook_env
      vars:
        notebook_env_lock: "{LOCK}"
        common_uv_lock: "{ROOT / "tools/requirements.txt"}"
        common_env_sha256_script: "{ROOT / "images/notebook/own-packages-sha256"}"
        notebook_env_files_dir: "{ROOT / "images/notebook"}"
        notebook_env_packages_dir: "{ROOT / "packages"}"
"""


def docker(*args: str) -> str:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture(scope="module")
def bare_node() -> Iterator[str]:
    name = f"hpcjh-test-bare-{secrets.token_hex(3)}"
    docker("run", "--detach", "--name", name, "--label", "hpcjh-test=bare-node", BASE, "sleep", "infinity")
    try:
        # A bare Debian host as Ansible finds it in production: it has Python, nothing else of ours.
        # dpkg without an fsync per file, as the production tier's bare hosts (tests/production/bare-host).
        docker("exec", name, "sh", "-c", "echo force-unsafe-io > /etc/dpkg/dpkg.cfg.d/unsafe-io && apt-get update -qq"
               " && apt-get install -y -qq python3 >/dev/null")  # fmt: skip
        yield name
    finally:
        subprocess.run(["docker", "rm", "--force", name], capture_output=True, check=False)


def apply_roles(node: str) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory() as tmp:
        inventory = Path(tmp) / "hosts.yml"
        inventory.write_text(
            f"all:\n  hosts:\n    {node}:\n      ansible_connection: community.docker.docker_api\n"
            "      ansible_python_interpreter: /usr/bin/python3\n"
        )
        playbook = Path(tmp) / "bare.yml"
        playbook.write_text(PLAYBOOK)
        return subprocess.run(
            [str(VENV_BIN / "ansible-playbook"), "-i", str(inventory), str(playbook)],
            capture_output=True, text=True, check=False, cwd=ROOT, timeout=900,
        )  # fmt: skip


@pytest.fixture(scope="module")
def first_run(bare_node: str) -> subprocess.CompletedProcess[str]:
    return apply_roles(bare_node)


def test_role_installs_the_locked_environment(bare_node, first_run):
    assert first_run.returncode == 0, first_run.stdout[-3000:]
    node = testinfra.get_host(f"docker://root@{bare_node}")
    version = re.search(r"^jupyterhub==(\S+)", LOCK.read_text(), re.M)
    assert version
    assert node.check_output("/opt/jupyter/bin/jupyterhub-singleuser --version").splitlines()[-1] == version[1]
    launcher = node.file("/opt/jupyter/bin/hpchub-singleuser")
    assert launcher.exists and launcher.mode == 0o755
    assert node.file("/opt/jupyter/share/jupyter/lab/settings/overrides.json").exists
    marker = node.file("/opt/jupyter/.lock-sha256").content_string.strip()
    assert marker == hashlib.sha256(LOCK.read_bytes()).hexdigest()
    # Our own package after the lock, and IPython's site configuration that loads it in every kernel.
    assert "squeue" in node.check_output("/opt/jupyter/bin/python -c 'import slurm_magic.magics as m; print(m.__doc__)'"
                                         " && /opt/jupyter/bin/python -c 'import slurm_magic.commands as c;"
                                         " print(*c.TABLE_FORMATS)'")  # fmt: skip
    assert "slurm_magic" in node.file("/opt/jupyter/etc/ipython/ipython_config.py").content_string
    # The job clock: the notebook image's build of its JupyterLab extension, and its server extension enabled.
    assert node.file("/opt/jupyter/share/jupyter/labextensions/hpc-job-clock/package.json").exists
    extensions = node.check_output("/opt/jupyter/bin/jupyter server extension list 2>&1")
    assert re.search(r"hpc_job_clock\S* +\S*enabled", extensions), extensions
    assert node.file("/opt/jupyter/.own-packages-sha256").exists
    # Dask's site defaults, rendered from the role's variables, as Dask reads them; the IPython Parallel
    # sidebar's engines are Slurm jobs; MPI: Open MPI, mpi4py finds it, and PMIx's library where Slurm loads it.
    dask = node.check_output("/opt/jupyter/bin/python -c \"import dask, dask_jobqueue; g = dask.config.get;"
                             " print(g('jobqueue.slurm.walltime'), g('jobqueue.slurm.worker-extra-args'),"
                             " g('labextension.factory.class'))\"")  # fmt: skip
    assert dask == "00:30:00 ['--lifetime', '27m', '--lifetime-stagger', '1m'] SLURMCluster", dask
    sidebar = "/opt/jupyter/etc/jupyter/jupyter_server_config.json"
    assert '"engine_launcher_class": "slurm"' in node.file(sidebar).content_string
    mpi = node.check_output("/opt/jupyter/bin/python -c 'from mpi4py import MPI; print(MPI.Get_library_version())'")
    assert "Open MPI" in mpi, mpi
    assert "/libpmix.so.2" in node.file("/usr/lib/x86_64-linux-gnu/pmix2/lib/libpmix.so").linked_to


def test_second_run_skips_the_install(bare_node, first_run):
    assert first_run.returncode == 0
    again = apply_roles(bare_node)
    assert again.returncode == 0, again.stdout[-3000:]
    assert re.search(r"changed=0\s", again.stdout), again.stdout[-2000:]


def test_a_change_to_our_packages_alone_reinstalls_them(bare_node, first_run):
    """An upgrade of our packages with the same lock (a node built from the notebook image has no uv): the role
    installs uv and reinstalls them, and records their new hash."""
    assert first_run.returncode == 0
    node = testinfra.get_host(f"docker://root@{bare_node}")
    record = "/opt/jupyter/.own-packages-sha256"
    current = node.file(record).content_string
    docker("exec", bare_node, "sh", "-c", f"rm -rf /opt/uv && echo an-older-release > {record}")
    again = apply_roles(bare_node)
    assert again.returncode == 0, again.stdout[-3000:]
    assert node.file(record).content_string == current
    assert node.run("/opt/jupyter/bin/python -c 'import hpc_slurm.jobs, slurm_magic.magics'").rc == 0
