"""hpc-kernel add (slurm_kernel.own): a user's environment as kernels that run as Slurm jobs, following the site's
compute-node kernels; its refusals. The kernel it writes runs against the real Slurm in tests/e2e."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hpc_slurm.modules import command_of
from slurm_kernel import jobs, own

pytestmark = pytest.mark.unit


class FolderSpecs:
    """jupyter_client's KernelSpecManager as hpc-kernel uses it (the real one runs in tests/e2e): the specs of
    `kernel_dirs`, the first of a name winning, and the user's kernels folder."""

    def __init__(self, kernel_dirs: list[str], user_kernel_dir: str) -> None:
        self.kernel_dirs, self.user_kernel_dir = kernel_dirs, user_kernel_dir

    def get_all_specs(self) -> dict[str, dict]:
        found: dict[str, dict] = {}
        for folder in map(Path, self.kernel_dirs):
            for spec in sorted(folder.glob("*/kernel.json")) if folder.is_dir() else []:
                found.setdefault(spec.parent.name, {"resource_dir": str(spec.parent),
                                                    "spec": json.loads(spec.read_text())})  # fmt: skip
        return found


SITE_CONFIG = {"partition": "debug", "cpus": 1, "time": 30, "gpus": 0, "memory": "", "qos": ""}


@pytest.fixture
def manager(tmp_path: Path) -> FolderSpecs:
    """A site environment (its prefix: sys.prefix's stand-in) with two Python compute-node kernels, an R one (not
    a template for the user's Python) and a local one, and a user's kernels folder, both in tmp."""
    site = tmp_path / "site"
    gpu = {**SITE_CONFIG, "partition": "gpu", "gpus": 1}
    for name, config, language in (("slurm-debug", SITE_CONFIG, "python"), ("slurm-gpu", gpu, "python"),
                                   ("slurm-debug-r", SITE_CONFIG, "R")):  # fmt: skip
        (site / name).mkdir(parents=True)
        (site / name / "kernel.json").write_text(json.dumps({
            "argv": ["/opt/jupyter/bin/python3", "-m", "slurm_kernel.launch", "-f", "{connection_file}"],
            "display_name": name, "language": language, "metadata": {"kernel_provisioner": {
                "provisioner_name": "slurm-provisioner", "config": config}}}))  # fmt: skip
    (site / "python3").mkdir()
    (site / "python3" / "kernel.json").write_text(json.dumps({"argv": ["python3"], "display_name": "Python 3",
                                                              "language": "python"}))  # fmt: skip
    user = tmp_path / "home" / "kernels"
    user.mkdir(parents=True)
    return FolderSpecs([str(user), str(site)], str(user))


@pytest.fixture
def venv(tmp_path: Path) -> Path:
    """A user's environment whose Python imports ipykernel (this interpreter, run by a script, with a stand-in
    ipykernel package on its path)."""
    packages = tmp_path / "envs" / "analysis" / "lib"
    (packages / "ipykernel").mkdir(parents=True)
    (packages / "ipykernel" / "__init__.py").write_text("")
    python = tmp_path / "envs" / "analysis" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(f'#!/bin/sh\nPYTHONPATH={packages} exec {sys.executable} "$@"\n')
    python.chmod(0o755)
    return tmp_path / "envs" / "analysis"


def test_an_environment_becomes_one_kernel_per_site_kernel_with_its_interpreter(manager, venv, tmp_path):
    written = own.add(str(venv), None, [], manager, prefix=str(tmp_path / "site"))
    assert [where.name for where in written] == ["slurm-debug-analysis", "slurm-gpu-analysis"]
    spec = json.loads((written[0] / "kernel.json").read_text())
    assert spec["argv"] == [str(venv / "bin/python"), "-m", "slurm_kernel.launch", "-f", "{connection_file}"]
    assert spec["display_name"] == "analysis on a compute node (debug, 1 CPU, 30 min)"
    assert spec["metadata"]["kernel_provisioner"] == {"provisioner_name": "slurm-provisioner", "config": SITE_CONFIG}
    links = Path(spec["env"]["PYTHONPATH"])
    assert sorted(path.name for path in links.iterdir()) == ["hpc_slurm", "slurm_kernel"]
    # Our launcher's imports resolve through the links alone (-I: no site-packages, no user site).
    code = "import sys; sys.path.insert(0, sys.argv[1]); import slurm_kernel.launch, hpc_slurm.contract"
    assert subprocess.run([sys.executable, "-I", "-S", "-c", code, str(links)], check=False).returncode == 0
    assert "slurm-debug-analysis" in manager.get_all_specs()


def test_one_place_and_a_name_and_again_replaces_it(manager, venv, tmp_path):
    site = str(tmp_path / "site")
    own.add(str(venv / "bin/python"), "py-old", ["gpu"], manager, prefix=site)
    [again] = own.add(str(venv), "py-old", ["gpu"], manager, prefix=site)
    assert [kernel.name for kernel in own.site_kernels(manager, site)] == ["slurm-debug", "slurm-gpu"]  # not hers
    assert again.name == "slurm-gpu-py-old" and "(gpu, 1 CPU, 1 GPU, 30 min)" in (again / "kernel.json").read_text()


@pytest.mark.parametrize(
    ("environment", "name", "places", "message"),
    [
        ("envs/none", None, [], "envs/none: no Python there"),
        ("envs/analysis", "Bad Name", [], "--name 'Bad Name'"),
        ("envs/analysis", None, ["moon"], "--on moon: not a place with kernels here (debug, gpu)"),
        ("envs/noipykernel", None, [], "cannot import ipykernel: `"),
    ],
)
def test_what_cannot_make_a_kernel_says_what_to_do(manager, venv, tmp_path, environment, name, places, message):
    (tmp_path / "envs/noipykernel/bin").mkdir(parents=True)
    (tmp_path / "envs/noipykernel/bin/python").write_text("#!/bin/sh\nexit 1\n")
    (tmp_path / "envs/noipykernel/bin/python").chmod(0o755)
    with pytest.raises(own.OwnKernelError, match=re.escape(message)):
        own.add(str(tmp_path / environment) if not environment.startswith("envs/none") else environment, name,
                places, manager, prefix=str(tmp_path / "site"))  # fmt: skip


def test_a_site_without_compute_node_kernels_is_told_so(venv, tmp_path):
    bare = FolderSpecs([str(tmp_path / "nothing")], str(tmp_path / "k"))
    with pytest.raises(own.OwnKernelError, match="no compute-node kernels"):
        own.add(str(venv), None, [], bare, prefix=str(tmp_path / "nothing"))


def test_a_deleted_interpreter_is_found_before_a_job_is_submitted(tmp_path):
    assert jobs.missing_interpreter([str(tmp_path / "gone/bin/python"), "-m", "x"]) == str(tmp_path / "gone/bin/python")
    assert jobs.missing_interpreter([sys.executable, "-m", "x"]) == ""
    assert jobs.missing_interpreter(["python3", "-m", "x"]) == ""  # found on PATH on the node, as Jupyter does


def test_modules_are_loaded_before_each_kernel_and_a_local_one_on_request(manager, venv, tmp_path):
    written = own.add(str(venv), None, ["debug"], manager, prefix=str(tmp_path / "site"), modules=["gcc/12.2"],
                      local=True)  # fmt: skip
    assert [where.name for where in written] == ["analysis", "slurm-debug-analysis"]
    local, on_debug = (json.loads((where / "kernel.json").read_text()) for where in written)
    python = str(venv / "bin/python")
    assert local["argv"] == ["/bin/bash", "-lc", 'module load gcc/12.2 && exec "$0" "$@"', python, "-m",
                             "ipykernel_launcher", "-f", "{connection_file}"]  # fmt: skip
    assert local["display_name"] == "analysis (module gcc/12.2)"
    assert on_debug["argv"][3:] == [python, "-m", "slurm_kernel.launch", "-f", "{connection_file}"]
    assert on_debug["display_name"] == "analysis (module gcc/12.2) on a compute node (debug, 1 CPU, 30 min)"
    # The provisioner finds the interpreter inside the wrapper (a deleted environment is still named).
    assert jobs.missing_interpreter(command_of(on_debug["argv"])) == ""
    (venv / "bin/python").unlink()
    assert jobs.missing_interpreter(command_of(on_debug["argv"])) == python
    with pytest.raises(own.OwnKernelError, match="--module 'gcc;id'"):
        own.add(str(tmp_path / "site"), None, [], manager, modules=["gcc;id"])
