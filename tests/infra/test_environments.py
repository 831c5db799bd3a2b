"""Site environments on the hosts (site_environments): the local inventory's numpy1, built by notebook_env once on
the shared software filesystem from its own lock, is there for every node with our packages, launcher, settings
and the places' kernel specs; a site environment whose prefix has no Jupyter fails the deploy naming it."""

from __future__ import annotations

import hashlib
import json
import subprocess

import pytest

from tests.support.docker import ROOT
from tests.support.infra import INVENTORY, VENV_BIN, host, hosts_of

PREFIX = "/global/common/software/jupyter/numpy1"
LOCK = INVENTORY / "environments/numpy1.txt"
PLAYBOOK = ROOT / "tests/infra/notebook-env-environment.yml"


@pytest.mark.parametrize("name", sorted({*hosts_of("compute"), *hosts_of("login_nodes")}))
def test_the_shared_environment_is_built_once_from_its_lock_for_every_node(name):
    node = host(name)
    assert node.file(f"{PREFIX}/.lock-sha256").content_string.strip() == hashlib.sha256(LOCK.read_bytes()).hexdigest()
    launcher = node.file(f"{PREFIX}/bin/hpchub-singleuser")
    assert launcher.exists and launcher.mode == 0o755 and node.file(f"{PREFIX}/bin/jupyterhub-singleuser").exists
    versions = node.check_output(
        f"{PREFIX}/bin/python -c 'import numpy, slurm_magic, hpc_job_clock; print(numpy.__version__)'"
    )
    assert versions.startswith("1.")
    kernels = node.check_output(f"ls {PREFIX}/share/jupyter/kernels").split()
    assert {"slurm-debug", "slurm-interactive", "slurm-gpu"} <= set(kernels), kernels
    spec = json.loads(node.file(f"{PREFIX}/share/jupyter/kernels/slurm-debug/kernel.json").content_string)
    assert spec["argv"][0] == f"{PREFIX}/bin/python3"  # the kernel on a node runs this environment too


def test_a_site_environment_whose_prefix_has_no_jupyter_fails_naming_it():
    environment = {"name": "site", "prefix": "/opt/site-jupyter", "lock": "", "shared": False}
    done = subprocess.run(
        [str(VENV_BIN / "ansible-playbook"), "-i", str(INVENTORY), str(PLAYBOOK), "-e", "target=login",
         "-e", json.dumps({"notebook_env_environment": environment})],
        capture_output=True, text=True, check=False, cwd=ROOT, timeout=300,
    )  # fmt: skip
    assert done.returncode != 0
    shown = " ".join(done.stdout.split())
    assert "site_environments (site): /opt/site-jupyter on login has no bin/jupyterhub-singleuser" in shown, shown[
        -2000:
    ]
    assert host("login").run("test -e /opt/site-jupyter").rc != 0
