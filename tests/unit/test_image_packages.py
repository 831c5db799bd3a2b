"""The notebook image and the notebook_env role install the same Debian packages: a server finds the same MPI, R,
Lmod and desktop on the test cluster's nodes (built from the image) as on a site's hosts (set up by the role)."""

from __future__ import annotations

import re

import pytest

from tests.support.docker import ROOT
from tests.support.roles import defaults

DOCKERFILE = ROOT / "images/notebook/Dockerfile"
LISTS = (
    "notebook_env_mpi_packages",
    "notebook_env_r_packages",
    "notebook_env_lmod_packages",
    "notebook_env_desktop_packages",
)


def image_packages() -> set[str]:
    """The packages of the runtime stage's `apt-get install` (continued lines joined)."""
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    installs = re.findall(r"apt-get install -y --no-install-recommends ([^&]+)", text)
    return set(installs[-1].split())


@pytest.mark.parametrize("variable", LISTS)
def test_the_image_holds_what_the_role_installs(variable):
    wanted = set(defaults(ROOT / "roles/notebook_env")[variable])
    assert wanted and wanted <= image_packages(), sorted(wanted - image_packages())
