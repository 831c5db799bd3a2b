"""The documentation's commands, run as a user would run them: a user's own kernel made as
docs/how-to/add-an-environment.md says is offered by Jupyter and runs a notebook in that environment, with its
own packages."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.support.docker import on

ROOT = Path(__file__).resolve().parents[2]
USER = "dave"


def section_commands(page: str, heading: str) -> list[str]:
    """The lines of the first shell snippet under `heading` of a docs page."""
    text = (ROOT / page).read_text().split(f"## {heading}\n", 1)[1]
    body = re.search(r"^```sh\n(.*?)^```$", text, re.MULTILINE | re.DOTALL)
    assert body, f"{page}: no shell snippet under {heading!r}"
    return [line for line in body.group(1).splitlines() if line.strip()]


NOTEBOOK = {
    "cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
               "source": "import sys, ipykernel\nprint('PREFIX', sys.prefix, 'FROM', ipykernel.__file__)"}],
    "metadata": {"kernelspec": {"name": "analysis", "display_name": "Python (analysis)"}},
    "nbformat": 4, "nbformat_minor": 5,
}  # fmt: skip


def test_a_users_own_kernel_as_the_how_to_says(session_of):
    session_of(USER)  # the user's home exists
    home = on("login", "echo $HOME", user=USER, login=True).stdout.strip()
    on("login", "rm -rf ~/envs/analysis ~/.local/share/jupyter/kernels/analysis ~/own-kernel.ipynb", user=USER)
    for command in section_commands("docs/how-to/add-an-environment.md", "For one user: their own kernel"):
        ran = on("login", command, user=USER, login=True)
        assert ran.returncode == 0, (command, ran.stderr[-1500:])
    specs = json.loads(on("login", "/opt/jupyter/bin/jupyter kernelspec list --json", user=USER).stdout)
    analysis = specs["kernelspecs"]["analysis"]["spec"]
    assert analysis["display_name"] == "Python (analysis)"
    assert analysis["argv"][0] == f"{home}/envs/analysis/bin/python"
    written = on("login", "cat > ~/own-kernel.ipynb", user=USER, stdin=json.dumps(NOTEBOOK))
    assert written.returncode == 0, written.stderr
    ran = on("login", "cd && /opt/jupyter/bin/jupyter execute --inplace own-kernel.ipynb", user=USER)
    assert ran.returncode == 0, ran.stderr[-1500:]
    printed = on("login", "cat ~/own-kernel.ipynb", user=USER).stdout
    assert f"PREFIX {home}/envs/analysis FROM {home}/envs/analysis/lib/" in printed, printed[-1000:]
    on("login", "rm -rf ~/envs/analysis ~/.local/share/jupyter/kernels/analysis ~/own-kernel.ipynb", user=USER)
