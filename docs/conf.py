"""Sphinx configuration of the documentation site (`make docs`: warnings are errors, nothing is fetched)."""

from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))

project = "hpc-jupyterhub-deploy"
author = "the hpc-jupyterhub-deploy developers"
copyright = "2026, " + author
release = version = (DOCS.parent / "VERSION").read_text().strip()

extensions = ["myst_parser", "configuration_reference"]
source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "_ext", "**/README.md"]
# Headings get anchors (#places-where-servers-and-kernels-run), so pages link to sections as on GitHub.
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence", "deflist"]
# A link to a page or section that does not exist is a warning, and warnings are errors.
nitpicky = True

html_theme = "pydata_sphinx_theme"
html_title = "hpc-jupyterhub-deploy"
html_static_path: list[str] = []
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "footer_start": ["copyright"],
    "footer_end": [],
    # Nothing is fetched at build or view time: no version switcher, no analytics, no remote icons.
    "icon_links": [],
}
html_sidebars = {"**": ["sidebar-nav-bs"]}
