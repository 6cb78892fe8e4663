"""The pump between a stream and a view: Ctrl-C must stop it, wherever the signal lands."""

from __future__ import annotations

import signal
from typing import Any

import pytest

from kagura_magic.config import LLMConfig
from kagura_magic.llm import call_llm_stream_sync
from kagura_magic.pump import pump

TEXT = " ".join(f"word{i}" for i in range(400))


class _Finalizer:
    """An object whose ``__del__`` is where the main thread is when SIGINT is handled."""

    def __del__(self) -> None:
        signal.raise_signal(signal.SIGINT)  # the handler runs here; its KeyboardInterrupt is dropped


class _SwallowingView:
    """A plain view, except that its third piece drops an object with a finalizer."""

    def __init__(self) -> None:
        self.pieces: list[str] = []

    def feed(self, piece: str, stats: Any = None) -> None:
        self.pieces.append(piece)
        if len(self.pieces) == 3:
            _Finalizer()  # collected at once: SIGINT is handled inside __del__

    def due_in(self) -> float | None:
        return None

    def flush(self, stats: Any = None) -> None:
        pass


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # the dropped interrupt
@pytest.mark.usefixtures("sigint_raises")
def test_a_ctrl_c_swallowed_by_a_finalizer_still_stops_the_stream() -> None:
    """Python prints "Exception ignored" for an exception raised in ``__del__`` and goes on;
    litellm's objects have finalizers, so a real Ctrl-C can land there. It still stops."""
    view = _SwallowingView()
    stream = call_llm_stream_sync(TEXT, LLMConfig(model="demo/echo", extra={"tokens_per_second": 200}))
    outcome = pump(stream, view)
    assert outcome.interrupted
    assert len(view.pieces) < 50, "stopped soon after the interrupt, not at the end of the answer"
    assert TEXT.startswith(outcome.text) and outcome.text.startswith("".join(view.pieces[:3]))


@pytest.mark.usefixtures("sigint_raises")
def test_the_sigint_handler_is_restored_after_streaming() -> None:
    before = signal.getsignal(signal.SIGINT)
    stream = call_llm_stream_sync("short", LLMConfig(model="demo/echo", extra={"tokens_per_second": 0}))
    outcome = pump(stream, _SwallowingView())
    assert outcome.ok and signal.getsignal(signal.SIGINT) is before
