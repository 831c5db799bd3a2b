"""JupyterLab in a real browser (headless chromium), as a user: the Slurm panel (jupyterlab-slurm) lists the
server's own job, holds, releases and cancels a job the user submitted and then shows it in the job history
(sacct); a slider widget redraws an ipympl plot. The user logs in and spawns through the hub's forms; in
JupyterLab it is clicks and key presses.

The user is dave: carol, who has no Slurm association, is refused by the spawn form (test_spawn.py), and
alice, bob and erin belong to other browser and notebook tests.

jupyterlab-slurm 4.1.0 has no submission (its front end never calls its own `sbatch` route): our JupyterLab
extension (packages/jupyterlab-extension, src/submit.ts) adds "Submit Batch Script" (launcher: a dialog whose
text is saved as a script and submitted) and "Submit with sbatch" (the file browser's context menu), both
through that route. The jobs are submitted with them here, then held, released and cancelled in the panel.

Screenshots: test-artifacts/slurm-panel.png, slurm-panel-held.png, slurm-panel-after.png, widgets.png.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver import ActionChains, Chrome
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import WebDriverWait

from tests.support.browser import TOASTS, chromium, log_in, run_first_cell, screenshot, spawn_from_form, wait_for_lab
from tests.support.cluster import jupyter_jobs, slurm_jobs
from tests.support.docker import on
from tests.support.hubclient import HUB, HubSession, json_of
from tests.support.waiting import wait_for

USER, ACCOUNT = "dave", "m2000"
SCRIPT, JOB_NAME = "panel-job.sh", "from-the-panel"  # submitted from the dialog's text
FILE_SCRIPT, FILE_JOB_NAME = "file-job.sh", "from-a-file"  # submitted from the file browser
SRUN_MARK = "srun-from-the-file-browser.txt"  # written by srun in that job (not hidden: the contents API serves it)
NOTEBOOK = "slider-plot.ipynb"
# Pending for good, yet eligible (so sacct lists it once cancelled): longer than the debug QoS' MaxWall (30 min),
# which Slurm leaves pending with that reason. It can be held and released whatever the nodes are doing.
BATCH_SCRIPT = f"""#!/bin/bash
#SBATCH --job-name={JOB_NAME}
#SBATCH --partition=interactive
#SBATCH --qos=debug
#SBATCH --time=45
#SBATCH --output=/dev/null
sleep 300
"""
PENDING_REASON = "QOSMaxWallDurationPerJobLimit"
REASON = "NODELIST(REASON)"  # the queue's column: the nodes of a running job, the reason of a pending one
JOBS_TAB, HISTORY_TAB = "#jupyterlabSlurmWidget-tab-0", "#jupyterlabSlurmWidget-tab-1"  # squeue, sacct


@dataclass
class Lab:
    """The user's JupyterLab in a browser, and the same user's API session (for files and Slurm's view)."""

    browser: Chrome
    session: HubSession
    token: str

    def wait(self, deadline_s: float = 30) -> WebDriverWait[Chrome]:
        return WebDriverWait(self.browser, deadline_s, poll_frequency=0.2)

    def contents(self, method: str, path: str, **kwargs: Any) -> Any:
        reply = self.session.request(method, f"{HUB}/user/{USER}/api/contents/{path}",
                                     headers={"Authorization": f"token {self.token}"}, **kwargs)  # fmt: skip
        return json_of(reply) if reply.content else None

    def open(self, path: str = "") -> None:
        """JupyterLab at `path` (a document, or the launcher), with the saved layout reset."""
        self.browser.get(f"{HUB}/user/{USER}/lab/tree/{path}?reset" if path else f"{HUB}/user/{USER}/lab?reset")
        wait_for_lab(self.browser)


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    session = HubSession(USER)
    assert session.login().status_code == 200
    if session.server():  # left over: this module spawns from the form
        session.stop()
    token = session.token(expires_in_s=1800)
    with chromium("--window-size=1600,1000") as browser:  # wide enough for every column of the panel's table
        try:
            log_in(browser, USER)
            spawn_from_form(browser, USER, partition="interactive", account=ACCOUNT, minutes=20)
            yield Lab(browser, session, token)
        finally:
            on("slurmctld", f"scancel --user={USER} --name={JOB_NAME},{FILE_JOB_NAME}")
            with contextlib.suppress(WebDriverException):  # the user's saved layout back to the launcher
                browser.get(f"{HUB}/user/{USER}/lab?reset")
                wait_for_lab(browser, 30)
            for path in (SCRIPT, FILE_SCRIPT, SRUN_MARK, NOTEBOOK):
                session.delete(f"{HUB}/user/{USER}/api/contents/{path}",
                               headers={"Authorization": f"token {token}"})  # fmt: skip
            if session.server():
                session.stop()


# The Slurm panel


def open_slurm_panel(lab: Lab) -> None:
    """From the launcher (HPC Tools), as a person opens it; the queue is read when the panel opens, then every 60 s."""
    lab.wait().until(ready.visibility_of_element_located((By.CSS_SELECTOR, ".jp-LauncherCard")))
    lab.browser.find_element(By.CSS_SELECTOR, ".jp-LauncherCard[title='Slurm Dashboard']").click()
    lab.wait().until(ready.visibility_of_element_located((By.CSS_SELECTOR, f"{JOBS_TAB} .ag-center-cols-container")))


def job_row(browser: Chrome, job: str, tab: str = JOBS_TAB) -> dict[str, str]:
    """The panel's row of `job` in a tab's table (the live queue by default), by column id ({} when not listed)."""
    row: dict[str, str] = browser.execute_script(
        """const row = document.querySelector(`${arguments[0]} .ag-center-cols-container [row-id="${arguments[1]}"]`);
        return row ? Object.fromEntries([...row.querySelectorAll('[col-id]')].map(
            cell => [cell.getAttribute('col-id'), cell.innerText.trim()])) : {};""",
        tab,
        job,
    )
    return row


def row_shows(
    lab: Lab, job: str, done: Callable[[dict[str, str]], bool], what: str, tab: str = JOBS_TAB
) -> dict[str, str]:
    """Wait until the job's row satisfies `done`; the row, or a failure naming `what` and the row last seen."""
    seen: dict[str, str] = {}

    def probe(browser: Chrome) -> bool:
        nonlocal seen
        seen = job_row(browser, job, tab)
        return done(seen)

    try:
        lab.wait().until(probe)
    except TimeoutException:
        raise AssertionError(f"job {job} not {what} in the panel within 30 s; its row: {seen}") from None
    return seen


def select_and_press(lab: Lab, job: str, button: str) -> None:
    """Tick the job's row (if not ticked) and press the toolbar button whose label starts with `button`."""
    box = lab.browser.find_element(By.CSS_SELECTOR, f"{JOBS_TAB} [row-id='{job}'] input[type=checkbox]")
    if not box.is_selected():
        box.click()

    def enabled_button(browser: Chrome) -> WebElement | bool:
        for candidate in browser.find_elements(By.CSS_SELECTOR, f"{JOBS_TAB} .jp-SlurmWidget-table-button"):
            if candidate.text.startswith(button) and candidate.is_enabled():
                return candidate
        return False

    lab.wait(10).until(enabled_button, f"no enabled {button!r} button for job {job}").click()


def slurm_state(job: str) -> str:
    """`STATE REASON` of the job as Slurm's controller says (squeue as root)."""
    out = on("slurmctld", f"squeue --noheader --jobs={job} --format='%T %r'")
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def eligible(job: str) -> bool:
    """Whether the controller has given the job an eligible time (the scheduler has considered it)."""
    out = on("slurmctld", f"scontrol --oneliner show job {job}")
    assert out.returncode == 0, out.stderr
    return "EligibleTime=Unknown" not in out.stdout and "EligibleTime=" in out.stdout


def accounted_state(job: str) -> str:
    """The job's state in Slurm's accounting (sacct as root, through slurmdbd); empty before it is recorded."""
    out = on("slurmctld", f"sacct --noheader --parsable2 --allocations --jobs={job} --format=State")
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


SUBMITTED = re.compile(r"Submitted batch job (\d+) \((.+?)\)")


def submitted_job(lab: Lab, path: str) -> str:
    """The job id of JupyterLab's notification "Submitted batch job N (path)"; fails with any error shown."""

    def told(browser: Chrome) -> str | bool:
        for text in browser.execute_script(TOASTS):
            if (match := SUBMITTED.search(text)) and match[2] == path:
                return match[1]
            if text.startswith("sbatch ") or "Could not save" in text:
                raise AssertionError(f"submitting {path} failed: {text}")
        return False

    job: str = lab.wait().until(told, f"no notification that {path} was submitted")
    return job


def submit_text_from_the_launcher(lab: Lab, name: str, script: str) -> str:
    """The launcher's Submit Batch Script: the dialog's file name and text typed in, then Submit."""
    lab.wait().until(ready.visibility_of_element_located((By.CSS_SELECTOR, ".jp-LauncherCard")))
    card = lab.browser.find_element(
        By.XPATH, "//*[contains(@class, 'jp-LauncherCard')][.//*[normalize-space()='Submit Batch Script']]"
    )
    card.click()
    dialog = lab.wait().until(ready.visibility_of_element_located((By.CSS_SELECTOR, ".jp-Dialog .hpc-slurm-submit")))
    field = dialog.find_element(By.NAME, "script-name")
    field.clear()
    field.send_keys(name)
    text = dialog.find_element(By.NAME, "script-text")
    text.send_keys(Keys.CONTROL, "a")
    text.send_keys(Keys.DELETE)
    text.send_keys(script)
    screenshot(lab.browser, "slurm-submit-dialog.png")
    lab.browser.find_element(By.XPATH, "//*[contains(@class, 'jp-Dialog')]//button[normalize-space()='Submit']").click()
    return submitted_job(lab, name)


def submit_file_from_the_file_browser(lab: Lab, name: str) -> str:
    """Right-click the file in the file browser, then its menu's Submit with sbatch."""
    item = lab.wait().until(
        ready.visibility_of_element_located((By.CSS_SELECTOR, f".jp-DirListing-item[title^='Name: {name}']"))
    )
    ActionChains(lab.browser).context_click(item).perform()
    lab.wait().until(
        ready.element_to_be_clickable(
            (By.XPATH, "//*[contains(@class, 'lm-Menu-item')][.//*[normalize-space()='Submit with sbatch']]")
        )
    ).click()
    return submitted_job(lab, name)


def test_slurm_panel_lists_the_servers_own_job(lab):
    server_job = next(job for job, user in jupyter_jobs().items() if user == USER)
    node = on("slurmctld", f"squeue --noheader --jobs={server_job} --format=%N").stdout.strip()
    try:
        lab.open()
        open_slurm_panel(lab)
        row = row_shows(lab, server_job, bool, "listed")
        assert row["USER"] == USER and row["NAME"] == f"jupyter-{USER}", row
        assert row["ST"] == "RUNNING" and row[REASON] == node, row
    finally:
        screenshot(lab.browser, "slurm-panel.png")


def test_slurm_panel_holds_releases_and_cancels_a_job_submitted_from_text(lab):
    lab.open()
    job = submit_text_from_the_launcher(lab, SCRIPT, BATCH_SCRIPT)
    try:
        assert slurm_state(job) == f"PENDING {PENDING_REASON}"
        # What the dialog saved is the script Slurm got.
        assert lab.contents("GET", SCRIPT)["content"] == BATCH_SCRIPT
        open_slurm_panel(lab)
        row_shows(lab, job, lambda row: row.get("NAME") == JOB_NAME and row.get("ST") == "PENDING", "listed pending")

        select_and_press(lab, job, "Pause")  # a pending job is held
        row_shows(lab, job, lambda row: row.get(REASON) == "(JobHeldUser)", "held")
        assert slurm_state(job) == "PENDING JobHeldUser"
        screenshot(lab.browser, "slurm-panel-held.png")

        select_and_press(lab, job, "Resume")  # a held job is released
        row = row_shows(lab, job, lambda row: row.get(REASON, "(JobHeldUser)") != "(JobHeldUser)", "released")
        assert row["ST"] == "PENDING", row
        # Slurm's scheduler sees it again: its own reason back, and an eligible time (sacct lists jobs by it).
        wait_for(f"job {job} released", lambda: slurm_state(job) == f"PENDING {PENDING_REASON}" and eligible(job), 30)

        select_and_press(lab, job, "Cancel")
        row_shows(lab, job, lambda row: not row, "gone from the queue")
        assert job not in slurm_jobs(USER)

        # sacct, through slurmdbd: the job in the history, cancelled by its user (a UID the panel resolves). The
        # history is read when the panel opens, after an action and on Refresh: pressed once slurmdbd has the end.
        wait_for(f"job {job} cancelled in sacct", lambda: accounted_state(job).startswith("CANCELLED"), 30)
        lab.browser.find_element(By.XPATH, "//*[@id='slurm-tabs']//*[@role='tab'][.='Job History']").click()
        lab.browser.find_element(By.CSS_SELECTOR, "[aria-label='Refresh job history']").click()
        row = row_shows(lab, job, bool, "in the job history", tab=HISTORY_TAB)
        assert row["State"] == f"CANCELLED by {USER}" and row["JobName"] == JOB_NAME, row
    finally:
        screenshot(lab.browser, "slurm-panel-after.png")


# A job submitted from the panel's side runs as from a login shell: srun in it works (none of the server job's
# SLURM_* reach it; tests/e2e/test_job_environment.py does the same from a kernel and a terminal).
SRUN_SCRIPT = f"""#!/bin/bash
#SBATCH --job-name={FILE_JOB_NAME}
#SBATCH --partition=interactive
#SBATCH --time=2
#SBATCH --mem-per-cpu=100M
#SBATCH --output=/dev/null
srun --ntasks=1 sh -c 'echo ran-$SLURM_JOB_ID > $HOME/{SRUN_MARK}'
"""


def test_a_script_in_the_file_browser_is_submitted_from_its_menu_and_srun_works_in_it(lab):
    lab.contents("PUT", FILE_SCRIPT, json={"type": "file", "format": "text", "content": SRUN_SCRIPT})
    lab.open()
    job = submit_file_from_the_file_browser(lab, FILE_SCRIPT)
    try:
        shown = on("slurmctld", f"scontrol --oneliner show job {job}").stdout  # the controller's record, at once
        assert f"JobName={FILE_JOB_NAME} " in shown and f"UserId={USER}(" in shown, shown

        def written() -> str:
            reply = lab.session.get(f"{HUB}/user/{USER}/api/contents/{SRUN_MARK}",
                                    headers={"Authorization": f"token {lab.token}"}, timeout=10)  # fmt: skip
            return str(reply.json().get("content", "")) if reply.status_code == 200 else ""

        wait_for(f"srun in job {job} to write {SRUN_MARK}", lambda: written().strip() == f"ran-{job}", 90, 1)
    finally:
        screenshot(lab.browser, "slurm-submit-file.png")
        on("slurmctld", f"scancel {job}")


# A widget driving a plot


PLOT_CELL = """%matplotlib widget
import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np

x = np.linspace(0, 2 * np.pi, 200)
with plt.ioff():
    fig, ax = plt.subplots(figsize=(4, 3))
(line,) = ax.plot(x, np.sin(x))
ax.set_title("k = 1")
slider = widgets.IntSlider(value=1, min=1, max=10, description="k")
shown = widgets.Label(value="k = 1")


def redraw(change):
    k = change["new"]
    line.set_ydata(np.sin(k * x))
    ax.set_title(f"k = {k}")
    fig.canvas.draw_idle()
    shown.value = f"k = {k}"


slider.observe(redraw, names="value")
widgets.VBox([slider, shown, fig.canvas])
"""
OUTPUT = ".jp-NotebookPanel .jp-OutputArea"
LABEL = f"{OUTPUT} .widget-vbox > .widget-label"
FIGURE_IMAGE = f"""return document.querySelector("{OUTPUT} .jupyter-matplotlib-canvas-div canvas").toDataURL()"""


def notebook_of(*cells: str) -> dict[str, Any]:
    return {
        "cells": [{"cell_type": "code", "metadata": {}, "source": cell, "outputs": [], "execution_count": None}
                  for cell in cells],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}},
        "nbformat": 4, "nbformat_minor": 5,
    }  # fmt: skip


def steady_figure(lab: Lab) -> str:
    """SHA-256 of the figure's canvas (its PNG data URL) once drawn and unchanged over two reads (ipympl draws in
    steps)."""
    last = ""

    def steady(browser: Chrome) -> bool:
        nonlocal last
        image, last = last, browser.execute_script(FIGURE_IMAGE)
        return image == last and len(last) > 5_000  # a blank 400x300 canvas is ~1 kB

    lab.wait().until(steady, "the ipympl figure is not drawn, or keeps changing")
    return hashlib.sha256(last.encode()).hexdigest()


def test_a_slider_redraws_an_ipympl_plot(lab):
    lab.contents("PUT", NOTEBOOK, json={"type": "notebook", "format": "json", "content": notebook_of(PLOT_CELL)})
    try:
        lab.open(NOTEBOOK)
        run_first_cell(lab.browser)
        handle = lab.wait(60).until(ready.element_to_be_clickable((By.CSS_SELECTOR, f"{OUTPUT} .noUi-handle")))
        assert lab.browser.find_element(By.CSS_SELECTOR, LABEL).text == "k = 1"
        before = steady_figure(lab)

        handle.click()  # focus, as a person would, then the keyboard
        for _ in range(3):
            handle.send_keys(Keys.ARROW_RIGHT)
        assert handle.get_attribute("aria-valuenow") == "4.0"
        # The label is set by the kernel's callback: the browser sent the value, the kernel ran the callback.
        label = lab.browser.find_element(By.CSS_SELECTOR, LABEL)
        lab.wait().until(lambda _: label.text == "k = 4", "the callback's label does not show 'k = 4'")
        assert steady_figure(lab) != before, "the slider moved and the callback ran, but the plot was not redrawn"
    finally:
        figure = lab.browser.find_elements(By.CSS_SELECTOR, f"{OUTPUT} .jupyter-matplotlib")
        if figure:
            lab.browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", figure[0])
        screenshot(lab.browser, "widgets.png")


# Dask's sidebar (dask-labextension): "+ New" makes a SLURMCluster with the site's defaults (its factory is
# set in the Dask site configuration), Scale asks for worker jobs, Shutdown cancels them.


def dask_workers() -> list[str]:
    out = on("slurmctld", f"squeue --noheader --user={USER} --name=dask-worker --format='%i %a %w %T'")
    assert out.returncode == 0, out.stderr
    return out.stdout.splitlines()


def test_dask_sidebar_new_makes_a_slurm_cluster_that_scales(lab):
    server_job = next(job for job, user in jupyter_jobs().items() if user == USER)
    lab.open()
    try:
        lab.browser.find_element(By.CSS_SELECTOR, ".lm-TabBar-tab[data-id='dask-dashboard-launcher']").click()
        new = "#dask-dashboard-launcher .jp-ToolbarButtonComponent[title='Start New Dask Cluster']"
        lab.wait().until(ready.element_to_be_clickable((By.CSS_SELECTOR, new))).click()
        item = lab.wait(60).until(ready.visibility_of_element_located((By.CSS_SELECTOR, ".dask-ClusterListingItem")))
        assert "SLURMCluster" in item.find_element(By.CSS_SELECTOR, ".dask-ClusterListingItem-title").text
        item.find_element(By.CSS_SELECTOR, "button.dask-ClusterListingItem-scale").click()
        dialog = lab.wait().until(ready.visibility_of_element_located((By.CSS_SELECTOR, ".jp-Dialog")))
        workers = dialog.find_element(By.CSS_SELECTOR, "input.dask-ScalingInput")
        workers.send_keys(Keys.CONTROL, "a")
        workers.send_keys("2")
        dialog.find_element(By.CSS_SELECTOR, "button.jp-mod-accept").click()
        wait_for("two worker jobs running", lambda: [r.split()[-1] for r in dask_workers()] == ["RUNNING"] * 2, 60, 1)
        assert {tuple(row.split()[1:3]) for row in dask_workers()} == {(ACCOUNT, f"hpchub-{server_job}")}
        lab.wait(30).until(lambda _: "Number of Workers: 2" in item.text, "the sidebar does not show 2 workers")
        # A dashboard panel of the sidebar: Dask's bokeh page through the server's proxy, in JupyterLab.
        workers_page = "//*[@id='dask-dashboard-launcher']//button[normalize-space()='Workers']"
        lab.browser.find_element(By.XPATH, workers_page).click()
        frame = lab.wait().until(ready.presence_of_element_located((By.CSS_SELECTOR, "#jp-main-dock-panel iframe")))
        assert f"/user/{USER}/proxy/" in (frame.get_attribute("src") or ""), frame.get_attribute("src")
        lab.browser.switch_to.frame(frame)
        try:
            bokeh = "return [...document.querySelectorAll('.bk-Column, .bk-Column *')].some(e => e.shadowRoot)"  # drawn
            lab.wait(30).until(lambda browser: browser.execute_script(bokeh), "no bokeh page in the panel")
        finally:
            lab.browser.switch_to.default_content()
        screenshot(lab.browser, "dask-sidebar.png")
        item.find_element(By.CSS_SELECTOR, "button.dask-ClusterListingItem-stop").click()
        wait_for("the worker jobs ended after Shutdown", lambda: dask_workers() == [], 30, 0.5)
    finally:
        on("slurmctld", f"scancel --user={USER} --name=dask-worker")


# Environment modules (Lmod): jupyterlmod's panel


def module_items(browser: Chrome, list_id: str) -> list[str]:
    names: list[str] = browser.execute_script(
        "return [...document.querySelectorAll(`#${arguments[0]} .jp-Module-itemLabel`)].map(e => e.innerText.trim())",
        list_id,
    )
    return names


def hover_and_click(browser: Chrome, item: str) -> None:
    """As a user does: the pointer over the panel's item shows its button (Load or Unload), which is clicked."""
    row = browser.find_element(By.XPATH, item)
    ActionChains(browser).move_to_element(row).pause(0.3).click(row.find_element(By.XPATH, "./button")).perform()


def test_the_lmod_panel_lists_the_sites_modules_and_loads_one_into_the_server(lab):
    """The panel lists the site's modules (notebook_env_modules, on the shared software filesystem); Load puts
    the module in the server's environment, which a kernel started after it inherits."""
    lab.open()
    lab.browser.find_element(By.CSS_SELECTOR, ".lm-TabBar-tab[data-id='module-jupyterlab']").click()
    wanted = "hpc-defaults/1.0"
    lab.wait(30).until(lambda b: wanted in module_items(b, "module_avail_list"), "the panel lists no hpc-defaults/1.0")
    assert "numpy1/1.26" in module_items(lab.browser, "module_avail_list")
    hover_and_click(lab.browser, f"//ul[@id='module_avail_list']/li[span[normalize-space()='{wanted}']]")
    lab.wait(30).until(lambda b: wanted in module_items(b, "module_loaded_list"), "Load did not load it")
    screenshot(lab.browser, "lmod-panel.png")
    with lab.session.kernel(60, token=lab.token) as kernel:
        assert kernel.run("import os; print(os.environ.get('OMP_NUM_THREADS'))").strip() == "1"
    hover_and_click(lab.browser, f"//ul[@id='module_loaded_list']/li[span[normalize-space()='{wanted}']]")
    lab.wait(30).until(lambda b: wanted not in module_items(b, "module_loaded_list"), "Unload did not unload it")
