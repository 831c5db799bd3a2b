"""Every tier of the test tree: each test is marked with its tier (its folder), so `pytest tests/ -m e2e`
chooses one. The tiers that need the running deployment say so in their own conftest."""

from __future__ import annotations

from pathlib import Path

import pytest

TIERS = ("unit", "images", "infra", "e2e", "faults", "production")
HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        tier = Path(item.path).resolve().relative_to(HERE).parts[0]
        if tier in TIERS:
            item.add_marker(tier)
