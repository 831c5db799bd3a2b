"""hpchub-singleuser, the server launcher of every job: reports the port to a real HTTP server standing in
for the hub's batchspawner API, then execs the command on that port; a refused report starts nothing. Its
stand-ins for the hub's modules hold their own names and import the real module for anything else."""

from __future__ import annotations

import ast
import importlib.machinery
import importlib.util
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar

import jinja2
import pytest
from hpc_slurm import contract

LAUNCHER = Path(__file__).resolve().parents[2] / "images/notebook/hpchub-singleuser"


class FakeHubApi(BaseHTTPRequestHandler):
    status = 201
    received: ClassVar[list[tuple[str, str, dict]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.received.append((self.path, self.headers["Authorization"], body))
        self.send_response(self.status)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hub_api() -> Iterator[HTTPServer]:
    FakeHubApi.received = []
    server = HTTPServer(("127.0.0.1", 0), FakeHubApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()


def launch(
    hub_api: HTTPServer, tmp_path: Path, script: str = 'echo "args=$* url=$JUPYTERHUB_SERVICE_URL cwd=$(pwd)"'
) -> subprocess.CompletedProcess[str]:
    """The launcher with a stand-in server (a shell script) and the environment a spawn gives it."""
    server = tmp_path / "fake-server"
    server.write_text(f"#!/bin/sh\n{script}\n")
    server.chmod(0o755)
    env = {
        **os.environ,
        "HOME": str(tmp_path),
        "JUPYTERHUB_API_URL": f"http://127.0.0.1:{hub_api.server_address[1]}/hub/api",
        "JUPYTERHUB_API_TOKEN": "secret-token",
        "JUPYTERHUB_SERVICE_URL": "http://0.0.0.0:0/user/alice/",
    }
    argv = [sys.executable, str(LAUNCHER), str(server), "--debug"]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30, check=False)


def test_reports_the_port_then_execs_the_server_on_it(hub_api, tmp_path):
    done = launch(hub_api, tmp_path)
    assert done.returncode == 0, done.stderr
    [(path, auth, body)] = FakeHubApi.received
    assert path == "/hub/api/batchspawner" and auth == "token secret-token"
    assert set(body) == {"port"} and 1024 <= body["port"] <= 65535
    assert done.stdout.strip() == f"args=--debug url=http://0.0.0.0:{body['port']}/user/alice/ cwd={tmp_path}"


def test_a_refused_report_starts_nothing(hub_api, tmp_path):
    FakeHubApi.status = 403
    try:
        done = launch(hub_api, tmp_path)
    finally:
        FakeHubApi.status = 201
    assert done.returncode != 0 and "refused the port report: 403" in done.stderr
    assert "args=" not in done.stdout


@pytest.fixture
def launcher_module() -> Iterator[object]:
    """The launcher imported as a module (its file has no .py name); the test packages leave sys.modules after."""
    loader = importlib.machinery.SourceFileLoader("hpchub_singleuser_launcher", str(LAUNCHER))
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(loader.name, loader))
    loader.exec_module(module)
    yield module
    for name in [name for name in sys.modules if name.startswith("hubpkg")]:
        del sys.modules[name]


def test_a_stand_in_holds_its_names_and_imports_the_real_module_for_any_other(launcher_module, tmp_path, monkeypatch):
    package = tmp_path / "hubpkg"
    package.mkdir()
    (package / "__init__.py").write_text("IMPORTED = True\n")
    (package / "heavy.py").write_text("import sys\nsys.modules['hubpkg'].heavy_runs = True\nREAL = 'real'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    stand_in = launcher_module.StandIn

    class Placeholder:
        pass

    sys.modules["hubpkg.heavy"] = stand_in("hubpkg.heavy", {"Name": Placeholder})
    from hubpkg.heavy import Name  # the stand-in's own name: the real module does not run

    assert Name is Placeholder and "hubpkg" not in sys.modules
    import hubpkg.heavy as heavy

    assert heavy.REAL == "real"  # any other name: the real module, now in sys.modules
    assert sys.modules["hubpkg"].heavy_runs and not isinstance(sys.modules["hubpkg.heavy"], stand_in)


def test_a_lazy_hub_module_runs_at_its_first_use(launcher_module, tmp_path, monkeypatch):
    (tmp_path / "hubpkg_lazy.py").write_text("import sys\nsys.hubpkg_lazy_ran = True\nVALUE = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(launcher_module, "HUB_LAZY_MODULES", frozenset({"hubpkg_lazy"}))
    finder = launcher_module.LazyHubModules()
    sys.meta_path.insert(0, finder)
    try:
        import hubpkg_lazy

        assert not getattr(sys, "hubpkg_lazy_ran", False)
        assert hubpkg_lazy.VALUE == 1 and sys.hubpkg_lazy_ran
    finally:
        sys.meta_path.remove(finder)
        del sys.hubpkg_lazy_ran


def test_the_port_follows_from_the_job_id_and_skips_one_in_use(launcher_module, monkeypatch):
    monkeypatch.setenv("HPCHUB_PORT_RANGE", "40100-40199")
    monkeypatch.setenv("SLURM_JOB_ID", "1234")  # 1234 % 100 = 34
    with socket.socket() as taken:
        try:
            taken.bind(("", 40134))
        except OSError:
            pytest.skip("port 40134 is in use on this machine")
        taken.listen()
        assert launcher_module.free_port() == 40135
    assert launcher_module.free_port() == 40134
    monkeypatch.setenv("SLURM_JOB_ID", "1235")
    assert launcher_module.free_port() == 40135  # the next job starting at once tries another port


def test_the_server_leaves_its_jobs_environment_behind(launcher_module):
    # What the server's job had (Slurm 22.05, spawned by the hub), and a site's setting from the login shell.
    environ = {"SLURM_JOB_ID": "77", "SLURM_MEM_PER_NODE": "1024", "SLURM_EXPORT_ENV": "JUPYTERHUB_API_TOKEN,PATH",
               "SLURMD_NODENAME": "c1", "SLURM_CONF": "/site/slurm.conf", "SBATCH_ACCOUNT": "m1000",
               "SLURM_JOB_ACCOUNT": "m2000", "SLURM_JOB_PARTITION": "interactive",
               "PATH": "/opt/jupyter/bin:/usr/bin", "JUPYTERHUB_API_TOKEN": "t"}  # fmt: skip
    launcher_module.leave_the_jobs_environment(environ)
    # The job's account and partition stay known (engine and worker jobs default to them) under names that
    # sbatch and srun do not read.
    assert environ == {"HPCHUB_JOB_ID": "77", "SLURM_CONF": "/site/slurm.conf", "SBATCH_ACCOUNT": "m1000",
                       "HPCHUB_JOB_ACCOUNT": "m2000", "HPCHUB_JOB_PARTITION": "interactive",
                       "PATH": "/opt/jupyter/bin:/usr/bin", "JUPYTERHUB_API_TOKEN": "t"}  # fmt: skip


def test_the_launched_server_has_no_slurm_job_variables(hub_api, tmp_path, monkeypatch):
    monkeypatch.setenv("SLURM_JOB_ID", "4321")
    monkeypatch.setenv("SLURM_MEM_PER_NODE", "1024")
    done = launch(hub_api, tmp_path, script="env")
    assert done.returncode == 0, done.stderr
    names = {line.split("=", 1)[0] for line in done.stdout.splitlines() if "=" in line}
    assert "HPCHUB_JOB_ID=4321" in done.stdout.splitlines() and not {n for n in names if n.startswith("SLURM_")}


def test_the_servers_dask_defaults_and_cluster_wckey(launcher_module):
    environ = {"HPCHUB_JOB_ID": "77", "HPCHUB_JOB_ACCOUNT": "m2000", "HPCHUB_JOB_PARTITION": "interactive",
               "SCRATCH": "/global/scratch/bob", "DASK_JOBQUEUE__SLURM__QUEUE": "'debug'",
               "HPCHUB_ENVIRONMENT": "numpy1"}  # fmt: skip
    launcher_module.server_only_environment(environ)
    # Dask reads DASK_* values with ast.literal_eval (dask.config.interpret_value): strings stay strings.
    dask = {name: ast.literal_eval(value) for name, value in environ.items() if name.startswith("DASK_")}
    assert dask == {
        "DASK_JOBQUEUE__SLURM__SHEBANG": "#!/usr/bin/env bash\n#SBATCH --wckey=hpchub-77",
        "DASK_DISTRIBUTED__DASHBOARD__LINK": "{JUPYTERHUB_SERVICE_PREFIX}proxy/{port}/status",
        "DASK_JOBQUEUE__SLURM__ACCOUNT": "m2000",
        "DASK_JOBQUEUE__SLURM__QUEUE": "debug",  # the user's own setting wins
        "DASK_JOBQUEUE__SLURM__LOG_DIRECTORY": "/global/scratch/bob/dask-logs",
    }
    assert environ["HPCHUB_CLUSTER_WCKEY"] == "hpchub-77"
    assert set(environ["HPCHUB_SERVER_ONLY"].split()) == set(environ) - {"SCRATCH", "HPCHUB_SERVER_ONLY"}


def test_no_server_job_no_dask_defaults(launcher_module):
    environ = {"PATH": "/usr/bin"}
    launcher_module.server_only_environment(environ)
    assert environ == {"PATH": "/usr/bin"}


def test_slurms_task_prolog_unsets_the_servers_own_variables(tmp_path):
    """roles/slurm's TaskProlog (a plain sh script, rendered from hpc_slurm.contract's names as the role does):
    `unset NAME` for each name listed, nothing else."""
    template = LAUNCHER.parents[2] / "roles/slurm/templates/hpchub-task-prolog.sh.j2"
    prolog = tmp_path / "hpchub-task-prolog.sh"
    rendered = jinja2.Template(template.read_text(), trim_blocks=True)
    prolog.write_text(rendered.render(ansible_managed="", slurm_contract=contract.as_dict()))
    env = {"PATH": os.environ["PATH"], "HPCHUB_SERVER_ONLY": "HPCHUB_JOB_ID DASK_X bad;name"}
    done = subprocess.run(["sh", str(prolog)], env=env, capture_output=True, text=True, check=True)
    assert done.stdout.splitlines() == ["unset HPCHUB_JOB_ID", "unset DASK_X", "unset HPCHUB_SERVER_ONLY"]
    quiet = subprocess.run(["sh", str(prolog)], env={"PATH": os.environ["PATH"]}, capture_output=True, text=True)
    assert quiet.returncode == 0 and quiet.stdout == ""
