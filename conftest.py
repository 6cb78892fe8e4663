"""Repo-wide pytest setup: applies to tests/ and to the notebooks nbval runs."""

pytest_plugins = ["tests.nbval_display_updates"]
