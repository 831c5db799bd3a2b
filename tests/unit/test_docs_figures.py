"""Measured figures live in one place: docs/benchmarks.{json,md}, written together by `make bench`.

The README and the architecture page link to them instead of restating them, so they cannot disagree.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bench.report import spawn_table

ROOT = Path(__file__).resolve().parents[2]
RESULTS = json.loads((ROOT / "docs/benchmarks.json").read_text())


@pytest.mark.parametrize("page", ["README.md", "docs/architecture.md", "docs/performance.md"])
def test_pages_link_to_the_benchmarks(page):
    text = (ROOT / page).read_text()
    assert "benchmarks.md" in text
    assert not re.search(r"^#+ .*median \d", text, re.MULTILINE)  # no current figure in a heading


@pytest.mark.parametrize("page", ["README.md", "docs/architecture.md"])
def test_front_pages_restate_no_spawn_median(page):
    # (docs/performance.md keeps dated before/after figures of past changes: history, not the current state.)
    text = (ROOT / page).read_text()
    assert not re.findall(r"(?:spawn|request to ready)[^|\n]{0,40}median[^|\n]{0,6}\d+\.\d+ s", text, re.IGNORECASE)


def test_the_markdown_tables_are_the_json_results():
    page = (ROOT / "docs/benchmarks.md").read_text()
    assert spawn_table(RESULTS["spawn"]) in page
