"""The NFS mounts of production: rendered here from the example inventory (this kernel cannot mount NFS)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import jinja2
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "roles/shared_fs/templates/nfs.mount.j2"
EXAMPLE = yaml.safe_load((ROOT / "inventories/production.example/group_vars/all.yml").read_text())
TASKS = (ROOT / "roles/shared_fs/tasks/nfs.yml").read_text()


def render(mount: dict[str, str]) -> str:
    template = jinja2.Template(TEMPLATE.read_text(), undefined=jinja2.StrictUndefined)
    return template.render(item=mount, ansible_managed="Ansible managed")


@pytest.mark.parametrize("mount", EXAMPLE["shared_fs_nfs"], ids=lambda m: m["path"])
def test_mount_unit_from_the_example_inventory(mount):
    unit = render(mount)
    assert f"What={mount['source']}\n" in unit
    assert f"Where={mount['path']}\n" in unit
    assert "Type=nfs\n" in unit
    assert f"Options={mount['options']}\n" in unit
    assert "WantedBy=remote-fs.target" in unit


def test_options_default_when_the_inventory_gives_none():
    assert "Options=rw,hard,noatime\n" in render({"path": "/global/homes", "source": "nfs:/homes"})


@pytest.mark.skipif(not shutil.which("systemd-escape"), reason="needs systemd-escape")
@pytest.mark.parametrize("mount", EXAMPLE["shared_fs_nfs"], ids=lambda m: m["path"])
def test_unit_file_name_is_what_systemd_expects_for_the_path(mount):
    # The role names the unit like this expression; systemd requires the escaped path as the name.
    expression = re.search(r"dest: \"/etc/systemd/system/\{\{ (.*?) \}\}\.mount\"", TASKS)
    assert expression and "regex_replace('^/', '') | replace('/', '-')" in expression[1]
    ours = mount["path"].lstrip("/").replace("/", "-")
    systemd = subprocess.run(["systemd-escape", "--path", mount["path"]], capture_output=True, text=True, check=True)
    assert ours == systemd.stdout.strip()
