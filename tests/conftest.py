"""Shared fixtures: a local OpenAI-compatible server, a real kernel, a key-free environment."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.kernel_client import Kernel, loaded_kernel
from tests.openai_server import OpenAIServer

# Tests never reach a real provider: strip any keys the developer has set.
_PROVIDER_KEYS = [name for name in os.environ if name.endswith("_API_KEY")]


@pytest.fixture(autouse=True)
def _no_provider_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _PROVIDER_KEYS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("KAGURA_MODEL", raising=False)
    # A developer's own config file (a default model, params) must not reach the tests.
    monkeypatch.setenv("KAGURA_CONFIG", "/nonexistent/kagura-tests/config.toml")


@pytest.fixture(scope="session")
def _server() -> Iterator[OpenAIServer]:
    server = OpenAIServer().start()
    yield server
    server.stop()


@pytest.fixture
def openai_server(_server: OpenAIServer) -> OpenAIServer:
    """The session's server, with its records and knobs reset for this test."""
    with _server.lock:
        _server.requests.clear()
        _server.disconnects = 0
    _server.disconnected.clear()
    _server.flaky_failures = 1
    _server.chunk_delay = 0.0
    _server.slow_delay = 0.05
    _server.stall_seconds = 5.0
    _server.answer = ""
    return _server


@pytest.fixture(scope="module")
def kernel() -> Iterator[Kernel]:
    """One real kernel per test module, the extension loaded."""
    with loaded_kernel() as k:
        yield k


@pytest.fixture
def sigint_raises() -> Iterator[None]:
    """SIGINT raises KeyboardInterrupt for this test, however the test run was started.

    A run started as a background job inherits SIGINT ignored, and Python then
    leaves it ignored: a test of Ctrl-C would see nothing happen.
    """
    import signal

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
