"""Headless notebooks and workflows on the real cluster (packages/workflows, `hpc-workflow`), as bob:
from a login shell (the CLI) and from a kernel of his server (the Python API).

- a diamond of four notebook steps with parameters: the two middle steps (a whole node's CPUs each) run at
  once on both nodes; every executed notebook (parameters injected) and its HTML land in the run folder;
- a failing cell fails its step, names the cell in the status and the job's log, and Slurm cancels the
  dependants (not pending for ever); `rerun --failed` runs only that step and its dependants again;
- a gate holds its dependants until approved; a rejected gate cancels them;
- a variable of a running notebook step read from bob's server through the step's kernel;
- a workflow submitted from a notebook keeps running while bob's server is stopped, and its status is right
  from the server started again (the Python definition's YAML round trip on the way);
- the Monitor widget in a real browser draws the diamond's steps with their states (screenshot kept:
  test-artifacts/workflow-monitor.png).
"""

from __future__ import annotations

import json
import re
import shlex
import time

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import WebDriverWait

from tests.support.browser import chromium, log_in, run_first_cell, screenshot
from tests.support.docker import on
from tests.support.hubclient import HUB
from tests.support.waiting import wait_for

USER, ACCOUNT = "bob", "m1000"
RUNS: dict[str, str] = {}  # the runs of earlier tests: the widget shows one
HOME = f"/global/homes/{USER}"
WORK = f"{HOME}/workflow-tests"


def notebook(*cells: str) -> str:
    """An .ipynb with these code cells; a cell starting with `# parameters` is papermill's parameters cell."""
    return json.dumps({
        "cells": [{"cell_type": "code", "metadata": {"tags": ["parameters"]} if cell.startswith("# parameters") else {},
                   "source": cell, "outputs": [], "execution_count": None} for cell in cells],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "nbformat": 4, "nbformat_minor": 5,
    })  # fmt: skip


def put(path: str, text: str) -> None:
    done = on("login", f"mkdir -p $(dirname {path}) && cat > {path}", user=USER, stdin=text, login=True)
    assert done.returncode == 0, done.stderr


def shell(command: str) -> tuple[int, str]:
    """`command` in bob's login shell on the login node: exit status and what it printed."""
    done = on("login", f"cd {WORK} && {command}", user=USER, login=True)
    return done.returncode, done.stdout + done.stderr


def status(run: str) -> dict:
    code, out = shell(f"hpc-workflow status --json {shlex.quote(run)}")
    assert code == 0, out
    return json.loads(out)


def steps(run: str) -> dict[str, dict]:
    return {step["name"]: step for step in status(run)["steps"]}


def submitted_run(out: str) -> str:
    (run,) = [line for line in out.splitlines() if line.startswith("/") and "/workflows/" in line]
    return run


def submit_and_wait(yaml_file: str, deadline_s: int = 180) -> tuple[int, str, str]:
    """`hpc-workflow submit`, then `hpc-workflow wait` (bounded): wait's exit status and output, and the run."""
    code, out = shell(f"hpc-workflow submit {yaml_file}")
    assert code == 0, out
    run = submitted_run(out)
    code, out = shell(f"hpc-workflow wait {run} --timeout {deadline_s}")
    assert code != 3, f"{run} still running after {deadline_s} s:\n{out}"
    return code, out, run


def settled(run: str, deadline_s: float = 180) -> dict:
    """The run once no step is pending or running."""
    wait_for(f"run {run} to settle", lambda: status(run)["state"] != "RUNNING", deadline_s, 1)
    return status(run)


@pytest.fixture(scope="module", autouse=True)
def work() -> None:
    on("login", f"rm -rf {WORK} && mkdir -p {WORK}", user=USER, login=True)
    yield
    on("slurmctld", f"scancel --user={USER} --name=wf-diamond-prepare,wf-gated-after,wf-gated-rejected-after")


DIAMOND = f"""
name: diamond
defaults: {{partition: debug, account: {ACCOUNT}, time: 10, memory: 500M}}
steps:
  prepare: {{notebook: prepare.ipynb, parameters: {{alpha: 0.5, label: diamond}}}}
  left: {{notebook: side.ipynb, parameters: {{side: left}}, after: [prepare], cpus: 2}}
  right: {{notebook: side.ipynb, parameters: {{side: right}}, after: [prepare], cpus: 2}}
  join: {{notebook: join.ipynb, after: [left, right]}}
"""
PREPARE = notebook("# parameters\nalpha = 0.1\nlabel = 'none'",
                   "open('prepared.txt', 'w').write(f'{label} {alpha * 2}')")  # fmt: skip
SIDE = notebook("# parameters\nside = 'none'",
                "import socket, time\ntime.sleep(3)\nopen(f'{side}.txt', 'w').write(socket.gethostname())")  # fmt: skip
JOIN = notebook("hosts = {open('left.txt').read(), open('right.txt').read()}\nprint(sorted(hosts))")


def test_a_diamond_of_notebooks_with_parameters_runs_across_both_nodes():
    for name, text in (("diamond.yaml", DIAMOND), ("prepare.ipynb", PREPARE), ("side.ipynb", SIDE),
                       ("join.ipynb", JOIN)):  # fmt: skip
        put(f"{WORK}/{name}", text)
    code, out, run = submit_and_wait("diamond.yaml")
    assert code == 0, out
    RUNS["diamond"] = run
    shown = steps(run)
    assert {name: step["state"] for name, step in shown.items()} == dict.fromkeys(shown, "COMPLETED")
    assert {shown["left"]["node"], shown["right"]["node"]} == {"c1", "c2"}  # at once, a node each
    assert shell("cat prepared.txt")[1] == "diamond 1.0"  # the parameters reached the notebook
    code, executed = shell(f"cat {run}/steps/join/output.ipynb")
    assert code == 0 and "['c1', 'c2']" in executed
    code, prepared = shell(f"cat {run}/steps/prepare/output.ipynb")
    assert code == 0 and "alpha = 0.5" in prepared and "injected-parameters" in prepared  # papermill's cell
    code, html = shell(f"grep -c 'injected-parameters' {run}/steps/prepare/output.html")  # and rendered
    assert code == 0 and int(html) >= 1, html


FAILING = notebook("x = 1", "raise ValueError('bad input for ' + str(x))", "print('never')")
FIXED = notebook("x = 1", "print('fine', x)")
CHAIN = f"""
name: chain
defaults: {{partition: debug, account: {ACCOUNT}, time: 10, memory: 500M}}
steps:
  first: {{command: "echo first > first.txt"}}
  broken: {{notebook: broken.ipynb, after: [first]}}
  last: {{command: "echo last > last.txt", after: [broken]}}
"""


def test_a_failing_cell_cancels_the_dependants_and_rerun_failed_runs_only_what_did_not_complete():
    put(f"{WORK}/broken.ipynb", FAILING)
    put(f"{WORK}/chain.yaml", CHAIN)
    code, out, run = submit_and_wait("chain.yaml")
    assert code == 1, out  # the workflow failed: so does the command
    shown = steps(run)
    assert shown["first"]["state"] == "COMPLETED"
    assert shown["broken"]["state"] == "FAILED"
    assert shown["broken"]["error"] == "cell 2 raised ValueError: bad input for 1", shown["broken"]
    assert shown["last"]["state"] == "CANCELLED", shown["last"]  # by Slurm, not left pending
    assert shown["last"]["error"] == "cancelled: step broken failed", shown["last"]
    code, log = shell(f"hpc-workflow log {run} broken")
    assert "step broken failed: cell 2 raised ValueError: bad input for 1" in log, log
    first_job = shown["first"]["job"]

    put(f"{WORK}/broken.ipynb", FIXED)
    code, out = shell(f"hpc-workflow rerun {run} --failed")
    assert code == 0 and re.findall(r"submitted: (\w+)", out) == ["broken", "last"], out
    final = settled(run)
    assert final["state"] == "COMPLETED", final
    assert {step["name"]: step["job"] for step in final["steps"]}["first"] == first_job  # not run again


GATED = f"""
name: gated
defaults: {{partition: debug, account: {ACCOUNT}, time: 10, memory: 500M}}
steps:
  before: {{command: "echo before"}}
  review: {{gate: true, after: [before]}}
  after: {{command: "echo after > after.txt", after: [review]}}
"""


def test_a_gate_holds_its_dependants_until_approved_and_a_rejected_gate_cancels_them():
    put(f"{WORK}/gated.yaml", GATED)
    code, out = shell("hpc-workflow submit gated.yaml")
    assert code == 0, out
    approved = submitted_run(out)
    put(f"{WORK}/gated-rejected.yaml", GATED.replace("name: gated", "name: gated-rejected"))
    code, out = shell("hpc-workflow submit gated-rejected.yaml")
    rejected = submitted_run(out)
    for run in (approved, rejected):
        wait_for("the step before the gate", lambda r=run: steps(r)["before"]["state"] == "COMPLETED", 60, 1)
        shown = steps(run)
        assert shown["review"]["state"] == "WAITING FOR APPROVAL" and shown["after"]["state"] == "PENDING", shown
    code, out = shell(f"hpc-workflow approve {approved} review")
    assert code == 0, out
    assert settled(approved)["state"] == "COMPLETED"
    code, out = shell(f"hpc-workflow reject {rejected} review")
    assert code == 0, out
    final = settled(rejected, 60)
    assert {step["name"]: step["state"] for step in final["steps"]}["after"] == "CANCELLED", final


# The second cell runs for 40 s: the variable is read while it runs (through a subshell of the kernel).
SLOW = notebook("secret = 41 + 1", "import time\nfor _ in range(80):\n    time.sleep(0.5)", "done = True")

# From bob's server: a workflow defined in Python, through YAML and back, submitted; a running step's variable
# read through its kernel.
FROM_A_NOTEBOOK = f"""
import os, time
from hpc_workflow import Resources, Step, Workflow, WorkflowError, submit
os.chdir({WORK!r})
built = Workflow("from-python", (Step("slow", notebook="slow.ipynb"),
                                 Step("after", command="echo after > from-python.txt", after=("slow",))),
                 defaults=Resources(partition="debug", account={ACCOUNT!r}, time=10, memory="500M"))
assert Workflow.from_yaml(built.to_yaml()) == built
run = submit(built)
kernel_file = run.step_dir("slow") / "kernel.json"
ends = time.monotonic() + 90
while not kernel_file.exists() and time.monotonic() < ends:
    time.sleep(0.5)
print("RUN", run.path)
while time.monotonic() < ends:  # until the first cell has run
    try:
        asked = time.monotonic()
        secret = run.evaluate("slow", "secret")
        break
    except WorkflowError as not_yet:
        secret = str(not_yet)
        time.sleep(0.5)
print("SECRET", secret)
print("ANSWERED IN", round(time.monotonic() - asked, 1))
"""


def test_a_running_steps_kernel_is_reachable_and_a_workflow_outlives_the_server(session_of):
    put(f"{WORK}/slow.ipynb", SLOW)
    bob = session_of(USER)
    reply = bob.api("POST", f"/users/{USER}/server", json={"partition": "interactive", "account": ACCOUNT})
    assert reply.status_code in (201, 202), reply.text[:300]
    bob.wait_ready(120)
    out = bob.run_in_kernel(FROM_A_NOTEBOOK, timeout_s=180)
    run = re.search(r"^RUN (\S+)", out, re.M)
    assert run and re.search(r"^SECRET 42$", out, re.M), out
    answered = re.search(r"^ANSWERED IN ([\d.]+)$", out, re.M)
    assert answered and float(answered[1]) < 10, out  # not after the running cell's 40 s
    assert status(run[1])["state"] == "RUNNING"

    bob.stop()  # the workflow goes on without the server
    started = time.monotonic()
    final = settled(run[1], 120)
    assert final["state"] == "COMPLETED", final
    assert shell("cat from-python.txt")[1].strip() == "after"

    reply = bob.api("POST", f"/users/{USER}/server", json={"partition": "interactive", "account": ACCOUNT})
    assert reply.status_code in (201, 202), reply.text[:300]
    bob.wait_ready(120)
    again = bob.run_in_kernel(f"from hpc_workflow.run import Run\nr = Run.load({run[1]!r})\nprint(r.state())")
    assert again.strip() == "COMPLETED", again
    print(f"the workflow completed {time.monotonic() - started:.0f} s after its server stopped")


DRAWN_MONITOR = """
const boxes = document.querySelectorAll('.hpc-workflow-dag g[data-step]');
const table = document.querySelector('.hpc-workflow-steps');
if (!boxes.length || !table) return null;
return {states: Object.fromEntries([...boxes].map(box => [box.dataset.step, box.dataset.state])),
        rows: table.querySelectorAll('tbody tr').length, text: table.innerText};
"""


def test_the_monitor_widget_draws_the_run_in_a_browser(session_of):
    """Monitor(run) in JupyterLab, in headless chromium: the diamond's steps drawn with their states."""
    bob = session_of(USER)
    if not bob.server():
        assert bob.api("POST", f"/users/{USER}/server", json={"partition": "interactive"}).status_code in (201, 202)
        bob.wait_ready(120)
    cell = f"from hpc_workflow import Monitor\nfrom hpc_workflow.run import Run\nMonitor(Run.load({RUNS['diamond']!r}))"
    content = {"cells": [{"cell_type": "code", "metadata": {}, "source": cell, "outputs": [], "execution_count": None}],
               "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
               "nbformat": 4, "nbformat_minor": 5}  # fmt: skip
    auth = {"Authorization": f"token {bob.token()}"}
    api = f"{HUB}/user/{USER}/api"
    put = bob.put(f"{api}/contents/monitor.ipynb", headers=auth,
                  json={"type": "notebook", "format": "json", "content": content})  # fmt: skip
    assert put.status_code in (200, 201), put.text[:300]
    # The notebook's kernel is started before the browser opens it, and JupyterLab attaches to its session: the
    # kernel's start (an import of ipykernel on a busy 2-CPU node) is not raced against the page's loading. (Its
    # REST state stays "starting" until a client's first request: the browser's wait below is for idle.)
    session = bob.post(f"{api}/sessions", headers=auth,
                       json={"path": "monitor.ipynb", "type": "notebook", "kernel": {"name": "python3"}})  # fmt: skip
    assert session.status_code == 201, session.text[:300]
    with chromium("--window-size=1600,1000") as browser:
        try:
            # One navigation, straight to the notebook (not the hub's redirect to /lab, then the notebook).
            log_in(browser, USER, f"{HUB}/hub/login?next=/user/{USER}/lab/tree/monitor.ipynb%3Freset")
            wait = WebDriverWait(browser, 60, poll_frequency=0.2)
            wait.until(ready.presence_of_element_located((By.CSS_SELECTOR, ".jp-NotebookPanel")))
            run_first_cell(browser)
            # Read in one script: the widget redraws itself every 5 s, and elements found by one WebDriver call
            # may be gone by the next (a stale element reference, 1 run in 3 when read box by box).
            drawn = wait.until(lambda b: b.execute_script(DRAWN_MONITOR))
            assert drawn["states"] == dict.fromkeys(["prepare", "left", "right", "join"], "COMPLETED"), drawn
            assert drawn["rows"] == 4 and "c1" in drawn["text"], drawn
        finally:
            screenshot(browser, "workflow-monitor.png")
            bob.delete(f"{HUB}/user/{USER}/api/contents/monitor.ipynb", headers=auth)
