"""Session fixtures for the browser tests: one JupyterLab, one Chromium, a fresh page per test.

Skipped (with the reason) when Debian's Chromium, Playwright or JupyterLab is
missing, except under ``CI=true``, where a missing piece fails the tests: CI
must never go green without having looked at the real frontend.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.harness import CHROMIUM, JupyterLabServer, LabPage, launch_chromium

REPO = Path(__file__).resolve().parents[2]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "browser: end-to-end test in JupyterLab with headless Chromium (deselect with -m 'not browser')",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


def _missing() -> list[str]:
    missing = []
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        missing.append(
            f"{CHROMIUM} (apt-get install chromium chromium-driver, or scripts/install_browser_deps.sh)"
        )
    if importlib.util.find_spec("playwright") is None:
        missing.append("the playwright Python package")
    if importlib.util.find_spec("jupyterlab") is None:
        missing.append("the jupyterlab Python package")
    if importlib.util.find_spec("ipykernel") is None:
        missing.append("the ipykernel Python package")
    return missing


@pytest.fixture(scope="package")
def _browser_requirements() -> None:
    missing = _missing()
    if not missing:
        return
    reason = "browser tests need " + ", ".join(missing)
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: a missing browser is a failure, not a skip)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="package")
def lab_server(_browser_requirements: None) -> Iterator[JupyterLabServer]:
    server = JupyterLabServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="package")
def chromium(_browser_requirements: None) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="kagura-chromium-")
    with sync_playwright() as playwright:
        context = launch_chromium(playwright, profile)
        context.set_default_timeout(30_000)
        try:
            yield context
        finally:
            context.close()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="package")
def screenshots() -> Path:
    folder = Path(os.environ.get("KAGURA_SCREENSHOTS") or REPO / "out" / "screenshots").resolve()
    folder.mkdir(parents=True, exist_ok=True)
    print(f"\nbrowser screenshots: {folder}")
    return folder


@pytest.fixture
def lab(request: pytest.FixtureRequest, lab_server: JupyterLabServer, chromium: object) -> Iterator[LabPage]:
    """A new page with its own JupyterLab workspace; kernels are shut down afterwards."""
    page = chromium.new_page()  # type: ignore[attr-defined]
    workspace = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:40] + f"-{int(time.time())}"
    lab_page = LabPage(page, lab_server, workspace)
    try:
        yield lab_page
    finally:
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            folder = Path(os.environ.get("KAGURA_SCREENSHOTS") or REPO / "out" / "screenshots")
            try:
                folder.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(folder / f"FAILED-{workspace}.png"))
                print(f"failure screenshot: {folder / f'FAILED-{workspace}.png'}")
            except Exception as exc:  # the page may be gone; the test's own error matters more
                print(f"no failure screenshot: {exc}")
        page.close()
        lab_server.shutdown_kernels()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]
