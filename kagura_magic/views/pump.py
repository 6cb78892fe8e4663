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
(it is the main thread, blocked in an interruptible ``Queue.get``), shuts the
stream's connection down itself (``AsyncTextStream.interrupt``: the provider
sees it at once, even while the loop is busy) and cancels the read task,
which closes the HTTP response as it unwinds.

A view may also offer its own way to stop (the notebook's Stop button,
``views/_stop_button.py``): ``View.offer_stop`` hands it a function that any
thread may call. It does what Ctrl-C does to the connection and wakes the
calling thread, and the answer ends as stopped, not interrupted: the user
ended this answer, not the cell.

One loop serves every stream (``llm.io_loop``): litellm caches its async
HTTP clients per event loop, so a loop per call would leave clients tied to
closed loops.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from types import FrameType
from typing import Any

from kagura_magic.errors import AgentError
from kagura_magic.llm import AsyncTextStream, TextEvent, ThinkingEvent, ToolCallEvent, io_loop
from kagura_magic.views._protocol import View
from kagura_magic.views._sigint import Handler, sigint_handler

_END = object()
_STOP = object()  # put in the queue by a view's stop, to wake the calling thread at once
STOP_GRACE = 1.0  # seconds to wait for the reader to close the connection


@dataclass(frozen=True)
class Ending:
    """How the read ended, before ``answer.py`` judges what that means.

    ``error`` is an ``AgentError`` from our streams, or whatever a caller's own
    iterator raised (``apump``); ``interrupted`` is Ctrl-C, a kernel interrupt
    or a cancelled task; ``stopped`` is the view's own stop (a Stop button).
    """

    text: str
    error: BaseException | None = None
    interrupted: bool = False
    tool_calls: tuple[ToolCallEvent, ...] = ()
    stopped: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None and not self.interrupted and not self.stopped


class _Reader:
    """Reads an ``AsyncTextStream`` on the I/O loop into a queue the calling thread drains."""

    def __init__(self, stream: AsyncTextStream) -> None:
        self.stream = stream
        self.pieces: queue.Queue[object] = queue.Queue()
        self.error: BaseException | None = None
        self.done = threading.Event()
        self._task = asyncio.run_coroutine_threadsafe(self._read(), io_loop())

    async def _read(self) -> None:
        try:
            async for event in self.stream.events():  # text, and thinking for views that show it
                self.pieces.put(event)
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
        """Cut the connection and cancel the read wherever it waits; safe from any thread.

        The cut comes first and does not wait for the I/O loop, which may be
        in the middle of a step (``kagura_magic/llm/_loop.py``).
        """
        self.stream.interrupt()
        self._task.cancel()


def pump(stream: AsyncTextStream, view: View) -> Ending:
    """Feed ``stream`` into ``view`` until it ends, fails or is interrupted.

    While streaming, SIGINT raises ``KeyboardInterrupt`` as before and is also
    noted. Python runs a signal handler at the next bytecode boundary, wherever
    that is: inside a ``__del__`` or a weakref callback (litellm's stream
    wrapper and HTTP clients have finalizers) the exception is printed as
    "Exception ignored" and dropped, and code that catches ``BaseException``
    drops it too; the answer would then simply go on. The note makes it stick.
    """
    interrupted = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        return _pump(stream, view, interrupted)  # a background answer: SIGINT is not its own

    def noting(previous: Handler) -> Handler:
        def note_and_forward(signum: int, frame: FrameType | None) -> Any:
            interrupted.set()
            return previous(signum, frame)

        return note_and_forward

    with sigint_handler(noting):
        return _pump(stream, view, interrupted)


def _pump(stream: AsyncTextStream, view: View, interrupted: threading.Event) -> Ending:
    reader = _Reader(stream)
    stopped = threading.Event()

    def stop() -> None:
        """The view's stop: safe from any thread (a Stop click arrives on ipykernel's own)."""
        if not stopped.is_set():
            stopped.set()
            reader.stop()
            reader.pieces.put(_STOP)

    view.offer_stop(stop)
    try:
        while True:
            if interrupted.is_set():  # a Ctrl-C whose KeyboardInterrupt something swallowed
                raise KeyboardInterrupt
            try:
                item = reader.pieces.get(timeout=view.due_in())
            except queue.Empty:
                view.flush(stream.stats)
                continue
            if item is _STOP or (item is _END and stopped.is_set()):
                return _ended_early(reader, view, stream, stopped=True)
            if item is _END:
                if interrupted.is_set():
                    raise KeyboardInterrupt
                break
            _show(view, item, stream.stats)
    except KeyboardInterrupt:
        reader.stop()
        return _ended_early(reader, view, stream, stopped=False)
    reader.done.wait(STOP_GRACE)
    view.flush(stream.stats)
    if reader.error is not None and not isinstance(reader.error, AgentError):
        raise reader.error  # a bug, not an answer's ending: let it show as one
    return Ending(stream.text, error=reader.error, tool_calls=tuple(stream.tool_calls))


def _ended_early(reader: _Reader, view: View, stream: AsyncTextStream, *, stopped: bool) -> Ending:
    """After a stop or an interrupt: show what had arrived (it is kept), then end."""
    reader.done.wait(STOP_GRACE)
    _drain(reader, view, stream)
    view.flush(stream.stats)
    calls = tuple(stream.tool_calls)
    return Ending(stream.text, interrupted=not stopped, tool_calls=calls, stopped=stopped)


def _show(view: View, item: object, stats: Any) -> None:
    """Hand one piece of text, or one stream event, to the view; send a frame if one is due."""
    _hand(view, item, stats)
    if view.due_in() == 0:
        view.flush(stats)


def _hand(view: View, item: object, stats: Any) -> None:
    if isinstance(item, str | TextEvent):
        view.feed(item if isinstance(item, str) else item.text, stats)
    elif isinstance(item, ThinkingEvent):
        view.think(item.text, stats)
    elif isinstance(item, ToolCallEvent):
        view.call(item, stats)


def _drain(reader: _Reader, view: View, stream: AsyncTextStream) -> None:
    """Show what arrived before the interrupt took effect (text, thinking, calls): it is kept."""
    while True:
        try:
            item = reader.pieces.get_nowait()
        except queue.Empty:
            return
        if item is _END:
            return
        if item is not _STOP:
            _hand(view, item, stream.stats)


async def apump(pieces: AsyncIterator[str], view: View) -> Ending:
    """``pump`` for any async iterator of text, read on the caller's own loop.

    For ``show_stream``: the iterator may be the user's generator, bound to
    the loop that awaits it, so it cannot move to the I/O loop. A pending
    frame is still sent on time while the iterator is quiet, by waiting for
    the next piece no longer than the view's next frame. Cancellation (a
    kernel interrupt of an awaiting cell) ends it as an interrupt; anything
    the iterator raises is returned for the caller to re-raise after the
    view has settled with what arrived. The view's stop (the Stop button)
    cancels the wait from whatever thread it comes on, and ends it as stopped.
    """
    stats = getattr(pieces, "stats", None)
    iterator = pieces.__aiter__()
    next_piece: asyncio.Future[str] | None = None
    loop = asyncio.get_running_loop()
    stopped = threading.Event()

    def cancel_the_wait() -> None:
        _cancel(next_piece)

    def stop() -> None:
        """The view's stop, from any thread: cut our stream's sockets, end the wait on the loop."""
        if stopped.is_set():
            return
        stopped.set()
        interrupt = getattr(pieces, "interrupt", None)
        if callable(interrupt):
            interrupt()
        loop.call_soon_threadsafe(cancel_the_wait)

    view.offer_stop(stop)
    try:
        while True:
            if stopped.is_set():
                raise asyncio.CancelledError
            if next_piece is None:
                next_piece = asyncio.ensure_future(iterator.__anext__())
            done, _ = await asyncio.wait({next_piece}, timeout=view.due_in())
            if not done:
                view.flush(stats)
                continue
            try:
                piece = next_piece.result()
            except StopAsyncIteration:
                break
            finally:
                next_piece = None
            _show(view, piece, stats)
    except (asyncio.CancelledError, KeyboardInterrupt) as exc:
        _cancel(next_piece)
        view.flush(stats)
        if stopped.is_set():
            return Ending(view.text, tool_calls=_calls_of(pieces), stopped=True)
        return Ending(view.text, error=exc, interrupted=True, tool_calls=_calls_of(pieces))
    except Exception as exc:
        _cancel(next_piece)
        view.flush(stats)
        return Ending(view.text, error=exc, tool_calls=_calls_of(pieces))
    view.flush(stats)
    return Ending(view.text, tool_calls=_calls_of(pieces))


def _calls_of(pieces: object) -> tuple[ToolCallEvent, ...]:
    """The tool calls of one of our streams; a caller's own iterator has none."""
    calls = getattr(pieces, "tool_calls", None)
    return tuple(call for call in calls or () if isinstance(call, ToolCallEvent))


def _cancel(pending: asyncio.Future[str] | None) -> None:
    if pending is not None:
        pending.cancel()
