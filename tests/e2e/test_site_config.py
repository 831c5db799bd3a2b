"""A site's own jupyterhub_config.d/*.py, without a fork: the jupyterhub role copies the folder named by
jupyterhub_config_d to the hub host, the hub loads its files after our configuration and restarts; a file
taken out of the folder is removed at the next run. Only the role's site-configuration tasks run here (and
its handler, which restarts the hub as a deploy does)."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import pytest
import yaml

from tests.support.docker import ROOT, on
from tests.support.hubclient import hub_healthy, public_get
from tests.support.waiting import wait_for

INVENTORY = ROOT / "inventories/local"
RUNTIME_FOLDER = INVENTORY / "secrets/runtime/jupyterhub_config.d"
PLAY = [{
    "name": "The site's hub configuration",
    "hosts": "hub",
    "gather_facts": False,
    "tasks": [{"name": "The role's site configuration tasks",
               "ansible.builtin.include_role": {"name": "jupyterhub", "tasks_from": "site_config"}}],
}]  # fmt: skip
MESSAGE = "Site configuration loaded from jupyterhub_config.d"


def deploy_site_config(folder: str) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(dir=ROOT / "deploy") as tmp:  # playbook_dir: deploy/, as for site.yml
        playbook = Path(tmp) / "site-config.yml"
        playbook.write_text(yaml.safe_dump(PLAY, sort_keys=False))
        return subprocess.run(
            [str(ROOT / ".venv/bin/ansible-playbook"), "-i", str(INVENTORY), str(playbook),
             "-e", f"jupyterhub_config_d={folder}"],
            capture_output=True, text=True, check=False, cwd=ROOT, timeout=300,
        )  # fmt: skip


def login_page() -> str:
    return public_get("/hub/login").text


@pytest.fixture
def site_folder(tmp_path):
    site = tmp_path / "jupyterhub_config.d"
    site.mkdir()
    yield site
    done = deploy_site_config("")  # what a deploy without jupyterhub_config_d leaves: an empty folder
    assert done.returncode == 0, done.stdout[-3000:]
    wait_for("hub healthy after the site's files were removed", hub_healthy, 90)


def test_the_sites_files_are_loaded_after_ours_and_removed_when_gone(site_folder):
    (site_folder / "10-announce.py").write_text("c.JupyterHub.template_vars = {'announcement_login': 'x'}\n")
    (site_folder / "20-announce.py").write_text(f"c.JupyterHub.template_vars = {{'announcement_login': '{MESSAGE}'}}\n")
    done = deploy_site_config(str(site_folder))
    assert done.returncode == 0, done.stdout[-3000:]
    assert sorted(path.name for path in RUNTIME_FOLDER.iterdir()) == ["10-announce.py", "20-announce.py"]
    wait_for("the hub restarted with the site's files", lambda: hub_healthy() and MESSAGE in login_page(), 90)
    # Mounted read-only: the hub cannot change what the site deployed.
    assert on("jupyterhub", "touch /etc/jupyterhub/jupyterhub_config.d/x").returncode != 0

    (site_folder / "20-announce.py").unlink()
    done = deploy_site_config(str(site_folder))
    assert done.returncode == 0, done.stdout[-3000:]
    assert sorted(path.name for path in RUNTIME_FOLDER.iterdir()) == ["10-announce.py"]
    wait_for("the hub restarted without the removed file", lambda: hub_healthy() and MESSAGE not in login_page(), 90)


def test_a_folder_that_is_not_there_is_named():
    done = deploy_site_config("/nonexistent/site-config")
    assert done.returncode != 0
    assert "jupyterhub_config_d (/nonexistent/site-config): not a folder on the deploy host" in done.stdout
