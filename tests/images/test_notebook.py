"""The notebook image: the user environment of the compute nodes."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
import yaml

from tests.support.docker import ROOT, docker
from tests.support.images import image, lock_mismatches, locked_versions, processes

LOCK = ROOT / "images/notebook/requirements.txt"


def test_every_locked_package_is_installed_at_its_version(notebook):
    assert not lock_mismatches(notebook, "/opt/jupyter/bin/python", LOCK)


def test_jupyterhub_singleuser_is_the_locked_version(notebook):
    out = notebook.check_output("/opt/jupyter/bin/jupyterhub-singleuser --version")
    assert out.strip().splitlines()[-1] == locked_versions(LOCK)["jupyterhub"]


def test_the_server_launcher_runs_with_the_environment_python(notebook):
    launcher = notebook.file("/opt/jupyter/bin/hpchub-singleuser")
    assert (launcher.user, launcher.mode) == ("root", 0o755)
    done = notebook.run("/opt/jupyter/bin/python3 /opt/jupyter/bin/hpchub-singleuser")
    assert done.rc != 0 and "usage: hpchub-singleuser CMD" in done.stderr


STAND_IN_CHECK = """
import importlib.machinery, importlib.util, sys
loader = importlib.machinery.SourceFileLoader("launcher", "/opt/jupyter/bin/hpchub-singleuser")
launcher = importlib.util.module_from_spec(importlib.util.spec_from_loader("launcher", loader))
loader.exec_module(launcher)
launcher.install_stand_ins()
import jupyterhub.singleuser
heavy = ("alembic", "cryptography", "sqlalchemy.orm", "jupyterhub.handlers.base")
print(sorted(name for name in heavy if name in sys.modules), type(sys.modules["jupyterhub.orm"]).__name__)
from jupyterhub import orm
print(orm.User.__name__, "sqlalchemy.orm" in sys.modules)
"""


def test_the_launcher_starts_jupyterhub_singleuser_without_the_hubs_database_modules(notebook):
    # Lazy modules and a stand-in keep the hub's ORM, its page handlers and alembic out of every server start;
    # the ORM, once used, is the real one.
    out = notebook.check_output(f"/opt/jupyter/bin/python3 -c '{STAND_IN_CHECK}'")
    assert out.strip().splitlines()[-2:] == ["[] _LazyModule", "User True"]


def test_jupyter_start_up_builds_no_iri_parsers(notebook):
    # rfc3987-syntax (left out of the lock) cost every JupyterLab start 0.9 s of CPU; jsonschema still imports.
    out = notebook.check_output(
        "/opt/jupyter/bin/python -c 'import sys, jupyter_events, jsonschema; print(\"rfc3987_syntax\" in sys.modules)'"
    )
    assert out.strip() == "False"


def test_jupyterlab_fetches_no_news_and_checks_no_updates(notebook):
    settings = json.loads(notebook.file("/opt/jupyter/share/jupyter/lab/settings/overrides.json").content_string)
    assert settings["@jupyterlab/apputils-extension:notification"] == {"checkForUpdates": False, "fetchNews": "false"}


@pytest.mark.parametrize(
    "module",
    [
        "jupyterlab_slurm",
        "slurm_magic",
        "dask_jobqueue",
        "distributed",
        "ipyparallel",
        "papermill",
        "ipykernel",
        "numpy",
        "pandas",
        "matplotlib",
        "ipywidgets",
        "ipympl",
        "bokeh",
        "jupyter_server_proxy",
        "hpc_job_clock.handlers",
    ],
)
def test_user_libraries_import(notebook, module):
    notebook.check_output(f"/opt/jupyter/bin/python -c 'import {module}'")


@pytest.mark.parametrize(
    "extension", ["jupyterlab-slurm", "@jupyter-widgets/jupyterlab-manager", "jupyter-matplotlib",
                  "@jupyterhub/jupyter-server-proxy", "hpc-job-clock"],
)  # fmt: skip
def test_jupyterlab_extensions_are_enabled(notebook, extension):
    out = notebook.check_output("/opt/jupyter/bin/jupyter labextension list 2>&1")
    assert f"{extension} v" in out and "enabled" in out.split(f"{extension} v", 1)[1].splitlines()[0], out


def test_the_server_proxy_and_job_clock_extensions_are_enabled(notebook):
    out = notebook.check_output("/opt/jupyter/bin/jupyter server extension list 2>&1")
    out = re.sub(r"\x1b\[[0-9;]*m", "", out)  # its colours
    assert "jupyter_server_proxy enabled" in out and "jupyter_server_proxy 4" in out, out
    assert "hpc_job_clock enabled" in out and "hpc_job_clock  OK" in out, out


def test_every_ipython_loads_the_slurm_magics_and_shows_slurms_message(notebook):
    # No controller answers here: the magic shows Slurm's own message as a usage error, not a traceback.
    out = notebook.run("/opt/jupyter/bin/ipython -c '%squeue --me'")
    said = out.stdout + out.stderr
    assert "UsageError: squeue:" in said or "UsageError: slurm_load_jobs error" in said, said
    assert "Traceback" not in said


def test_our_installed_packages_are_the_recorded_sources_and_the_checkouts_build(notebook):
    # The checkout's job clock extension is the image's own build (tools/build_images.py copies it): the
    # notebook_env role installs that copy on bare hosts, and a node built from the image reports ok.
    recorded = notebook.file("/opt/jupyter/.own-packages-sha256").content_string.strip()
    script = ROOT / "images/notebook/own-packages-sha256"
    # In the notebook_env role's order (notebook_env_own_packages), which the Dockerfile follows.
    own = yaml.safe_load((ROOT / "roles/notebook_env/defaults/main.yml").read_text())["notebook_env_own_packages"]
    packages = [str(ROOT / "packages" / name) for name in own]
    here = subprocess.run([sys.executable, str(script), *packages], capture_output=True, text=True, check=True)
    assert recorded == here.stdout.strip()


def test_login_shells_find_the_jupyter_environment(notebook):
    # A fresh login shell, as Slurm jobs and terminals get it, with no PATH inherited from the image.
    out = notebook.check_output("env -i HOME=/tmp /bin/bash -lc 'command -v jupyter python'")
    assert out.split() == ["/opt/jupyter/bin/jupyter", "/opt/jupyter/bin/python"]


def test_slurm_client_and_munge_are_installed(notebook):
    assert notebook.check_output("sbatch --version").startswith("slurm-wlm 22.05")
    for tool in ("squeue", "scancel", "sinfo", "srun", "munge", "unmunge"):
        assert notebook.exists(tool), tool
    # No key in the image: each cluster generates its own.
    assert not notebook.file("/etc/munge/munge.key").exists


def test_munge_and_slurm_users_have_fixed_ids(notebook):
    assert (notebook.user("munge").uid, notebook.user("slurm").uid) == (990, 991)


def test_jupyterlab_runs_as_the_unprivileged_user(notebook):
    lab = [user for user, cmd in processes(notebook) if "jupyter-lab" in cmd]
    assert lab == ["jovyan"]


def test_site_ca_bundle_is_trusted(notebook):
    staged = (ROOT / ".build/ca-bundle.crt").read_text()
    if not staged.strip():
        pytest.skip("built with CA_BUNDLE=none")
    first_cert = staged.split("-----END CERTIFICATE-----")[0]
    assert first_cert in notebook.file("/etc/ssl/certs/ca-certificates.crt").content_string


def test_labels(notebook_id):
    labels = json.loads(docker("image", "inspect", "--format", "{{json .Config.Labels}}", image("notebook")).stdout)
    assert labels["org.opencontainers.image.title"] == "hpc-jupyterhub-deploy notebook"
    assert labels["org.opencontainers.image.version"] == image("notebook").rsplit(":", 1)[1]
    assert labels["org.opencontainers.image.revision"]


def test_a_user_can_make_an_environment_of_their_own(notebook):
    # docs/how-to/add-an-environment.md: `python3 -m venv` (the login PATH's python3 is /opt/jupyter's), with pip.
    done = notebook.run("python3 -m venv /tmp/own && /tmp/own/bin/python -m pip --version")
    assert done.rc == 0, done.stderr
