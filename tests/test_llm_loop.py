"""The I/O loop and the sync code that waits on it (kagura_magic/llm/_loop.py).

With plain coroutines and async generators written here; the streams and
answers that use them are tested in test_llm_stream.py and test_llm_complete.py.
"""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections.abc import AsyncGenerator

import pytest

from kagura_magic import llm
from kagura_magic.llm._loop import BlockingReader, run_sync


def test_one_loop_on_one_daemon_thread() -> None:
    loop = llm.io_loop()
    assert llm.io_loop() is loop and loop.is_running()

    async def where() -> threading.Thread:
        return threading.current_thread()

    thread = run_sync(where())
    assert thread.name == "kagura-io" and thread.daemon


def test_run_sync_returns_the_result_and_raises_the_error() -> None:
    async def value() -> int:
        await asyncio.sleep(0)
        return 42

    async def failing() -> None:
        raise ValueError("from the loop")

    assert run_sync(value()) == 42
    with pytest.raises(ValueError, match="from the loop"):
        run_sync(failing())


@pytest.mark.usefixtures("sigint_raises")
def test_ctrl_c_while_waiting_cancels_the_coroutine() -> None:
    cancelled = threading.Event()

    async def forever() -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    main = threading.main_thread().ident
    assert main is not None
    threading.Timer(0.2, signal.pthread_kill, (main, signal.SIGINT)).start()
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        run_sync(forever())
    assert cancelled.is_set() and time.monotonic() - started < 5


class Counting:
    """An async generator's bookkeeping: how many items it produced, whether it was closed."""

    def __init__(self, limit: int = 100) -> None:
        self.produced = 0
        self.closed = threading.Event()
        self.limit = limit

    async def items(self) -> AsyncGenerator[int, None]:
        try:
            for number in range(self.limit):
                self.produced += 1
                yield number
                await asyncio.sleep(0)
        finally:
            self.closed.set()


def test_the_reader_reads_nothing_ahead() -> None:
    counting = Counting()
    reader = BlockingReader(counting.items())
    assert [reader.next(), reader.next()] == [0, 1]
    time.sleep(0.1)
    assert counting.produced == 2
    reader.close()
    assert counting.closed.is_set(), "closing the reader closes the generator on the loop"
    with pytest.raises(StopIteration):
        reader.next()


def test_the_reader_ends_and_passes_errors_on() -> None:
    reader = BlockingReader(Counting(limit=2).items())
    assert [reader.next(), reader.next()] == [0, 1]
    with pytest.raises(StopIteration):
        reader.next()

    async def failing() -> AsyncGenerator[int, None]:
        yield 1
        raise ValueError("mid-way")

    reader = BlockingReader(failing())
    assert reader.next() == 1
    with pytest.raises(ValueError, match="mid-way"):
        reader.next()
