"""Site environments on the hosts (site_environments): the local inventory's numpy1, built by notebook_env once on
the shared software filesystem from its own lock, is there for every node with our packages, launcher, settings
and the places' kernel specs; a site environment whose prefix has no Jupyter fails the deploy naming it. Lmod on
every node finds the site's modules; a module an environment loads that Lmod lacks fails the deploy naming it."""

from __future__ import annotations

import hashlib
import json
import subprocess

import pytest
import yaml

from tests.support.docker import ROOT
from tests.support.infra import INVENTORY, VENV_BIN, as_user, host, hosts_of

PREFIX = "/global/common/software/jupyter/numpy1"
LOCK = INVENTORY / "environments/numpy1.txt"
PLAYBOOK = ROOT / "tests/infra/notebook-env-tasks.yml"


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


def some_tasks(tasks: str, variables: dict[str, object]) -> tuple[int, str]:
    """notebook_env's tasks file `tasks` on the login node with `variables`: the exit status, the output in one line."""
    done = subprocess.run(
        [str(VENV_BIN / "ansible-playbook"), "-i", str(INVENTORY), str(PLAYBOOK), "-e", "target=login",
         "-e", f"tasks={tasks}", "-e", json.dumps(variables)],
        capture_output=True, text=True, check=False, cwd=ROOT, timeout=300,
    )  # fmt: skip
    return done.returncode, " ".join(done.stdout.split())


def test_a_site_environment_whose_prefix_has_no_jupyter_fails_naming_it():
    environment = {"name": "site", "prefix": "/opt/site-jupyter", "lock": "", "shared": False}
    returncode, shown = some_tasks("environment.yml", {"notebook_env_environment": environment})
    assert returncode != 0
    assert "site_environments (site): /opt/site-jupyter on login has no bin/jupyterhub-singleuser" in shown, shown[
        -2000:
    ]
    assert host("login").run("test -e /opt/site-jupyter").rc != 0


@pytest.mark.parametrize("name", sorted({*hosts_of("compute"), *hosts_of("login_nodes")}))
def test_lmod_finds_the_sites_modules_on_every_node(name):
    shown = as_user(host(name), "alice", "module --terse avail 2>&1")
    assert shown.rc == 0, shown.stdout
    assert {"numpy1/1.26", "hpc-defaults/1.0"} <= set(shown.stdout.split()), shown.stdout
    loaded = as_user(host(name), "alice", "module load numpy1/1.26 && command -v python3")
    assert loaded.stdout.strip() == f"{PREFIX}/bin/python3", loaded.stdout


def test_a_module_an_environment_loads_that_lmod_lacks_fails_naming_it():
    users = [{"variable": "site_environments", "name": "old", "modules": ["gcc/4.8"]}]
    returncode, shown = some_tasks("modules.yml", {"notebook_env_module_users": users})
    assert returncode != 0
    assert "site_environments (old).modules: Lmod on login has no module gcc/4.8" in shown, shown[-2000:]


def test_a_module_kernel_dropped_from_the_inventory_loses_its_spec():
    """The specs notebook_env wrote for module kernels (metadata hpchub: module kernel) that the inventory no longer
    lists are removed; the listed ones, and specs the role did not write, stay."""
    from hpc_slurm.modules import with_modules

    kernels = yaml.safe_load((INVENTORY / "group_vars/all.yml").read_text())["notebook_env_module_kernels"]
    assert [kernel["name"] for kernel in kernels] == ["python3-numpy1"]
    argv = [
        with_modules(k["modules"], ["python3", "-m", "ipykernel_launcher", "-f", "{connection_file}"]) for k in kernels
    ]
    folder = "/opt/jupyter/share/jupyter/kernels"
    gone = {"argv": ["python3"], "display_name": "gone", "language": "python", "metadata": {"hpchub": "module kernel"}}
    login = host("login")
    login.run(
        f"mkdir -p {folder}/python3-gone && echo '{json.dumps(gone, indent=1)}' > {folder}/python3-gone/kernel.json"
    )
    returncode, shown = some_tasks("module_kernels.yml", {
        "notebook_env_environment": {"name": "notebook image", "prefix": "/opt/jupyter"},
        "notebook_env_module_kernels": kernels, "notebook_env_module_kernel_argv": {"stdout": json.dumps(argv)},
    })  # fmt: skip
    assert returncode == 0, shown[-2000:]
    assert not login.file(f"{folder}/python3-gone").exists
    assert (
        login.file(f"{folder}/python3-numpy1/kernel.json").exists and login.file(f"{folder}/python3/kernel.json").exists
    )
