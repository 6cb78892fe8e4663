"""The pump between a stream and a view: Ctrl-C must stop it, wherever the signal lands."""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from kagura_magic.config import LLMConfig
from kagura_magic.llm import call_llm_stream
from kagura_magic.views.pump import pump
from tests.openai_server import OpenAIServer, interrupt_once_requested, local_config

TEXT = " ".join(f"word{i}" for i in range(400))


class _Finalizer:
    """An object whose ``__del__`` is where the main thread is when SIGINT is handled."""

    def __del__(self) -> None:
        signal.raise_signal(signal.SIGINT)  # the handler runs here; its KeyboardInterrupt is dropped


class _RecordingView:
    """A view that keeps the pieces it is fed and draws no frames."""

    def __init__(self) -> None:
        self.pieces: list[str] = []

    def feed(self, piece: str, stats: Any = None) -> None:
        self.pieces.append(piece)

    def due_in(self) -> float | None:
        return None

    def flush(self, stats: Any = None) -> None:
        pass

    def offer_stop(self, stop: Callable[[], None]) -> None:
        self.stop = stop


class _SwallowingView(_RecordingView):
    """A plain view, except that its third piece drops an object with a finalizer."""

    def feed(self, piece: str, stats: Any = None) -> None:
        super().feed(piece, stats)
        if len(self.pieces) == 3:
            _Finalizer()  # collected at once: SIGINT is handled inside __del__


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # the dropped interrupt
@pytest.mark.usefixtures("sigint_raises")
def test_a_ctrl_c_swallowed_by_a_finalizer_still_stops_the_stream() -> None:
    """Python prints "Exception ignored" for an exception raised in ``__del__`` and goes on;
    litellm's objects have finalizers, so a real Ctrl-C can land there. It still stops."""
    view = _SwallowingView()
    stream = call_llm_stream(TEXT, LLMConfig(model="demo/echo", extra={"tokens_per_second": 200}))
    outcome = pump(stream, view)
    assert outcome.interrupted
    assert len(view.pieces) < 50, "stopped soon after the interrupt, not at the end of the answer"
    assert TEXT.startswith(outcome.text) and outcome.text.startswith("".join(view.pieces[:3]))


@pytest.mark.usefixtures("sigint_raises")
def test_the_sigint_handler_is_restored_after_streaming() -> None:
    before = signal.getsignal(signal.SIGINT)
    stream = call_llm_stream("short", LLMConfig(model="demo/echo", extra={"tokens_per_second": 0}))
    outcome = pump(stream, _SwallowingView())
    assert outcome.ok and signal.getsignal(signal.SIGINT) is before


@pytest.mark.usefixtures("sigint_raises")
@pytest.mark.parametrize("scenario", ["silent", "stall"], ids=["before-first-token", "mid-answer-stall"])
def test_ctrl_c_while_the_provider_is_silent_closes_the_connection_at_once(
    openai_server: OpenAIServer, scenario: str
) -> None:
    """A model that thinks (or stalls) sends nothing: the interrupt must not wait for a chunk.

    A read blocked on a thread only sees a stop request when the next chunk
    or the read timeout comes, and meanwhile the provider keeps generating.
    """
    openai_server.stall_seconds = 30
    config = local_config(openai_server, scenario, timeout=60)
    view = _RecordingView()
    interrupt_once_requested(openai_server, len(openai_server.requests) + 1)  # well into the silence
    outcome = pump(call_llm_stream(TEXT, config), view)
    assert outcome.interrupted
    assert openai_server.disconnected.wait(3), "the connection closed at once, not after the 30 s silence"
    assert outcome.text == "".join(view.pieces) and TEXT.startswith(outcome.text)
    if scenario == "stall":
        assert outcome.text, "what arrived before the silence is kept"


def test_a_views_stop_from_another_thread_ends_the_answer_as_stopped(openai_server: OpenAIServer) -> None:
    """What the Stop button does: from a thread that is not the one reading, the connection
    closes, the reading thread wakes at once, and what arrived is kept."""
    openai_server.slow_delay = 0.05
    view = _RecordingView()
    stopped_at: list[float] = []

    def stop_soon() -> None:
        while len(view.pieces) < 5:
            time.sleep(0.01)
        stopped_at.append(time.monotonic())
        view.stop()

    threading.Thread(target=stop_soon, daemon=True).start()
    outcome = pump(call_llm_stream(TEXT, local_config(openai_server, "trickle")), view)
    ended_in = time.monotonic() - stopped_at[0]
    assert outcome.stopped and not outcome.interrupted and outcome.error is None
    assert openai_server.disconnected.wait(3)
    assert openai_server.disconnect_times[-1] - stopped_at[0] < 1.0, "the provider saw the close at once"
    assert ended_in < 1.0, f"the reading thread woke {ended_in:.2f} s after the stop"
    assert outcome.text == "".join(view.pieces) and TEXT.startswith(outcome.text) and len(view.pieces) < 50


async def test_a_views_stop_ends_an_async_pump_from_another_thread() -> None:
    """``show_stream``'s pump: the Stop button's click may come on ipykernel's own thread."""
    from collections.abc import AsyncIterator

    from kagura_magic.views.pump import apump

    async def slow_words() -> AsyncIterator[str]:
        for index in range(200):
            await asyncio.sleep(0.02)
            yield f"w{index} "

    view = _RecordingView()

    def stop_soon() -> None:
        while len(view.pieces) < 5:
            time.sleep(0.01)
        view.stop()

    threading.Thread(target=stop_soon, daemon=True).start()
    ending = await apump(slow_words(), _TextView(view))
    assert ending.stopped and not ending.interrupted and ending.error is None
    assert 5 <= len(view.pieces) < 30, "stopped soon after the click"


class _TextView:
    """A recording view with the ``text`` property ``apump`` reads."""

    def __init__(self, inner: _RecordingView) -> None:
        self._inner = inner

    @property
    def text(self) -> str:
        return "".join(self._inner.pieces)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)
