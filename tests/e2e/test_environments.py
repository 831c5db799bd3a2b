"""Site environments (site_environments, offered per place): the local inventory's second environment, numpy1, is
the notebook environment with numpy 1 on the shared software filesystem, built by the notebook_env role from its
own lock. The form lists each place's environments; REST refuses one a place does not offer, before Slurm; a server
started in numpy1 runs from its prefix, with our magics, the job clock and Dask on Slurm working there (its workers
run numpy1's interpreter too), after Lmod loaded its module hpc-defaults/1.0. Environment modules (Lmod) in a
kernel: `module.load` (jupyterlmod's Python API) puts a module's tool first on PATH; the site's module kernel
python3-numpy1 runs the Python its module provides."""

from __future__ import annotations

import html
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support.docker import on
from tests.support.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
USER = "alice"
NAME = "numpy1"  # the named server's
PREFIX = "/global/common/software/jupyter/numpy1"


def pinned(lock: Path, package: str) -> str:
    return re.search(rf"^{package}==(\S+)$", lock.read_text(), re.MULTILINE).group(1)  # type: ignore[union-attr]


DEFAULT_NUMPY = pinned(ROOT / "images/notebook/requirements.txt", "numpy")
NUMPY1 = pinned(ROOT / "inventories/local/environments/numpy1.txt", "numpy")

IN_THE_KERNEL = """
import json, os, subprocess, sys, numpy
queue = get_ipython().run_line_magic("squeue", "--me")
print(queue.to_csv())
print(json.dumps({"prefix": sys.prefix, "numpy": numpy.__version__, "environment": os.environ.get("HPCHUB_ENVIRONMENT"),
                  "magics": "squeue" in get_ipython().magics_manager.magics["line"],
                  "threads": os.environ.get("OMP_NUM_THREADS")}))
"""

DASK_WORKER = """
import json
from dask_jobqueue import SLURMCluster
from dask.distributed import Client
cluster = SLURMCluster(cores=1, processes=1)
cluster.scale(jobs=1)
client = Client(cluster)
client.wait_for_workers(1, timeout=120)
def versions():
    import numpy, sys
    return sys.prefix, numpy.__version__
print(json.dumps(list(client.run(versions).values())))
client.close(); cluster.close()
"""


def test_the_form_offers_each_places_environments(session_of):
    alice = session_of(USER)
    page = alice.get(f"{alice.hub}/hub/spawn/{USER}/{NAME}").text
    fields = {name: json.loads(html.unescape(data))
              for name, data in re.findall(r'<option value="(\w+)" data-fields="([^"]*)"', page)}  # fmt: skip
    assert [name for name, _ in fields["interactive"]["environment"]["choices"]] == ["default", "numpy1"]
    assert [name for name, _ in fields["login"]["environment"]["choices"]] == ["default"]
    assert "numpy1: The same with numpy 1.26" in page


def test_an_environment_a_place_does_not_offer_is_refused_over_rest(session_of):
    alice = session_of(USER)
    jobs_before = on("slurmctld", f"squeue --noheader --user={USER} --format=%i").stdout.split()
    reply = alice.api("POST", f"/users/{USER}/servers/{NAME}",
                      json={"user_options": {"place": "login", "environment": "numpy1"}})  # fmt: skip
    assert reply.status_code == 400, reply.text[:300]
    assert "environment: 'numpy1' is not offered at login (offered there: default)" in reply.json()["message"]
    assert on("slurmctld", f"squeue --noheader --user={USER} --format=%i").stdout.split() == jobs_before
    alice.api("DELETE", f"/users/{USER}/servers/{NAME}", json={"remove": True})


@pytest.fixture(scope="module")
def numpy1_server(session_of_module) -> Any:
    alice = session_of_module(USER)
    started = time.monotonic()
    reply = alice.api("POST", f"/users/{USER}/servers/{NAME}",
                      json={"user_options": {"place": "interactive", "environment": "numpy1", "time": 30}})  # fmt: skip
    assert reply.status_code in (201, 202), reply.text[:300]

    def ready() -> bool:
        return bool(alice.api("GET", f"/users/{USER}").json()["servers"].get(NAME, {}).get("ready"))

    wait_for("alice's numpy1 server ready", ready, 120, 0.2)
    print(f"a server in numpy1 ready in {time.monotonic() - started:.1f} s")
    yield alice
    alice.api("DELETE", f"/users/{USER}/servers/{NAME}", json={"remove": True})
    wait_for("the numpy1 server's job gone", lambda: f"jupyter-{USER}-{NAME}" not in on(
        "slurmctld", f"squeue --noheader --user={USER} --format=%j").stdout.split(), 60, 0.5)  # fmt: skip


def test_a_server_in_the_second_environment_runs_from_its_prefix_with_our_magics(numpy1_server):
    assert NUMPY1 != DEFAULT_NUMPY and NUMPY1.startswith("1.")
    with numpy1_server.kernel(90, server=NAME) as kernel:
        out = kernel.run(IN_THE_KERNEL)
    seen = json.loads(out.strip().splitlines()[-1])
    assert seen == {"prefix": PREFIX, "numpy": NUMPY1, "environment": "numpy1", "magics": True, "threads": "1"}, seen
    assert f"jupyter-{USER}-{NAME}" in out  # %squeue --me lists the server's own job


def test_the_job_clock_answers_in_the_second_environment(numpy1_server):
    reply = numpy1_server.server_get(f"{NAME}/hpc-job-clock/job", timeout=30)
    assert reply.status_code == 200, reply.text[:300]
    clock = reply.json()
    assert 0 < clock["end"] - clock["now"] <= 30 * 60, clock


def test_dask_workers_of_the_second_environment_run_its_interpreter_on_slurm(numpy1_server):
    with numpy1_server.kernel(180, server=NAME) as kernel:
        workers = json.loads(kernel.run(DASK_WORKER).strip().splitlines()[-1])
    assert workers == [[PREFIX, NUMPY1]], workers


def test_a_module_loaded_in_a_kernel_puts_its_tool_first_on_path(numpy1_server):
    code = (
        "import module, shutil, subprocess\n"
        "await module.load('numpy1/1.26')\n"
        "python = shutil.which('python3')\n"
        "print(python, subprocess.run([python, '-c', 'import numpy; print(numpy.__version__)'],"
        " capture_output=True, text=True).stdout.strip())\n"
    )
    with numpy1_server.kernel(90, server=NAME) as kernel:
        out = kernel.run(code).split()
    assert out == [f"{PREFIX}/bin/python3", NUMPY1], out


def test_a_site_kernel_that_loads_a_module_runs_the_python_it_provides(numpy1_server):
    with numpy1_server.kernel(90, name="python3-numpy1", server=NAME) as kernel:
        out = kernel.run("import sys, numpy; print(sys.prefix, numpy.__version__)").split()
    assert out == [PREFIX, NUMPY1], out
