"""hub.yaml as the jupyterhub role renders it, for tests that start a hub or load hub_config/jupyterhub_config.py
without a deploy: the hub refuses to start without the file, and no test keeps a copy of the role's defaults.

The role's template with the role's defaults, the local inventory's group_vars over them, the role's vars
(jupyterhub_settings) and `variables` over everything, as in a deploy. Only the template runs: not the role,
whose handlers would restart the running hub.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
ROLE = ROOT / "roles/jupyterhub"
PLAYBOOK = ROOT / ".venv/bin/ansible-playbook"


def render_hub_yaml(folder: Path, **variables: Any) -> Path:
    """`folder`/hub.yaml for the local inventory's site facts, `variables` (inventory variables) over them."""
    play = [{
        "name": "Render hub.yaml",
        "hosts": "localhost",
        "gather_facts": False,
        "tasks": [
            {"ansible.builtin.include_vars": str(ROLE / "defaults/main.yml")},
            {"ansible.builtin.include_vars": str(ROOT / "inventories/local/group_vars/all.yml")},
            {"ansible.builtin.include_vars": str(ROLE / "vars/main.yml")},
            {"ansible.builtin.template": {"src": str(ROLE / "templates/hub.yaml.j2"), "dest": str(folder / "hub.yaml"),
                                          "mode": "0644"}},
        ],
    }]  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        playbook = Path(tmp) / "render.yml"
        playbook.write_text(yaml.safe_dump(play, sort_keys=False))
        inventory = f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}\n"
        (Path(tmp) / "hosts").write_text(inventory)
        done = subprocess.run(
            [str(PLAYBOOK), "-i", str(Path(tmp) / "hosts"), str(playbook), "-e", json.dumps(variables)],
            capture_output=True, text=True, check=False, cwd=ROOT, timeout=120,
        )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"rendering hub.yaml failed:\n{done.stdout[-3000:]}{done.stderr[-2000:]}")
    return folder / "hub.yaml"
