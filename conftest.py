"""Repo-wide pytest setup: applies to tests/ and to the notebooks nbval runs."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["tests.nbval_display_updates"]

_BROWSER_TESTS = Path(__file__).parent / "tests" / "browser"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Notebook cells (each runs in a kernel) and the browser tests are ``slow``."""
    for item in items:
        if item.path.suffix == ".ipynb" or _BROWSER_TESTS in item.path.parents:
            item.add_marker(pytest.mark.slow)
