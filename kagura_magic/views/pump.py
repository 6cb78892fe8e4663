"""Move text from a stream to a view, on time, and stop cleanly.

The network read happens on a background asyncio loop; the view is driven
from the calling thread. That split gives three things a single loop cannot:

* a coalesced frame is shown on time even when the provider pauses (the
  caller waits on the queue only until the view's next frame is due),
* every widget or terminal write happens on the thread that runs the cell,
  which is where ipykernel routes output to the right cell, and
* an interrupt closes the connection at once, even while the provider sends
  nothing (before the first token, a stall, keep-alive comments while a model
  thinks): cancelling the read task ends a blocked network wait, which a
  thread blocked in a sync read would only notice at the next chunk or the
  read timeout, leaving the request running (and billed) meanwhile.

On Ctrl-C / kernel interrupt the calling thread gets ``KeyboardInterrupt``
(it is the main thread, blocked in an interruptible ``Queue.get``) and
cancels the read task, which closes the HTTP response as it unwinds.

One loop serves every stream, on a daemon thread started on first use:
litellm caches its async HTTP clients per event loop, so a loop per call
would leave clients tied to closed loops.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from dataclasses import dataclass
from types import FrameType
from typing import Any, Protocol

from kagura_magic.errors import AgentError
from kagura_magic.views._sigint import Handler, sigint_handler

_END = object()
STOP_GRACE = 1.0  # seconds to wait for the reader to close the connection


class View(Protocol):
    def feed(self, piece: str, stats: Any = None) -> None: ...
    def due_in(self) -> float | None: ...
    def flush(self, stats: Any = None) -> None: ...


@dataclass
class Outcome:
    """How a stream ended: ``error`` set on failure, ``interrupted`` on Ctrl-C."""

    text: str
    error: AgentError | None = None
    interrupted: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None and not self.interrupted


_io_loop: asyncio.AbstractEventLoop | None = None
_io_loop_lock = threading.Lock()


def io_loop() -> asyncio.AbstractEventLoop:
    """The loop streams are read on (see the module docstring)."""
    global _io_loop
    with _io_loop_lock:
        if _io_loop is None:
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="kagura-io", daemon=True).start()
            _io_loop = loop
        return _io_loop


class _Reader:
    """Reads an ``AsyncTextStream`` on the I/O loop into a queue the calling thread drains."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.pieces: queue.Queue[Any] = queue.Queue()
        self.error: BaseException | None = None
        self.done = threading.Event()
        self._task = asyncio.run_coroutine_threadsafe(self._read(), io_loop())

    async def _read(self) -> None:
        try:
            async for piece in self.stream:
                self.pieces.put(piece)
        except asyncio.CancelledError:
            pass  # stop() asked for it: the stream closed its response while unwinding
        except BaseException as exc:  # handed to the calling thread, which reports it
            self.error = exc
        finally:
            with contextlib.suppress(BaseException):
                await self.stream.aclose()
            self.pieces.put(_END)
            self.done.set()

    def stop(self) -> None:
        """Cancel the read wherever it waits; safe from any thread."""
        self._task.cancel()


def pump(stream: Any, view: View) -> Outcome:
    """Feed ``stream`` (an ``AsyncTextStream``) into ``view`` until it ends, fails or is interrupted.

    While streaming, SIGINT raises ``KeyboardInterrupt`` as before and is also
    noted. Python runs a signal handler at the next bytecode boundary, wherever
    that is: inside a ``__del__`` or a weakref callback (litellm's stream
    wrapper and HTTP clients have finalizers) the exception is printed as
    "Exception ignored" and dropped, and code that catches ``BaseException``
    drops it too; the answer would then simply go on. The note makes it stick.
    """
    interrupted = threading.Event()

    def noting(previous: Handler) -> Handler:
        def note_and_forward(signum: int, frame: FrameType | None) -> Any:
            interrupted.set()
            return previous(signum, frame)

        return note_and_forward

    with sigint_handler(noting):
        return _pump(stream, view, interrupted)


def _pump(stream: Any, view: View, interrupted: threading.Event) -> Outcome:
    reader = _Reader(stream)
    try:
        while True:
            if interrupted.is_set():  # a Ctrl-C whose KeyboardInterrupt something swallowed
                raise KeyboardInterrupt
            try:
                item = reader.pieces.get(timeout=view.due_in())
            except queue.Empty:
                view.flush(stream.stats)
                continue
            if item is _END:
                if interrupted.is_set():
                    raise KeyboardInterrupt
                break
            view.feed(item, stream.stats)
            if view.due_in() == 0:
                view.flush(stream.stats)
    except KeyboardInterrupt:
        reader.stop()
        reader.done.wait(STOP_GRACE)
        _drain(reader, view, stream)
        view.flush(stream.stats)
        return Outcome(stream.text, interrupted=True)
    reader.done.wait(STOP_GRACE)
    view.flush(stream.stats)
    if isinstance(reader.error, AgentError):
        return Outcome(stream.text, error=reader.error)
    if reader.error is not None:
        raise reader.error
    return Outcome(stream.text)


def _drain(reader: _Reader, view: View, stream: Any) -> None:
    """Show pieces that arrived before the interrupt took effect: what was streamed is kept."""
    while True:
        try:
            item = reader.pieces.get_nowait()
        except queue.Empty:
            return
        if item is _END:
            return
        view.feed(item, stream.stats)
