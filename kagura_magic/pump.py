"""Move text from a stream to a view, on time, and stop cleanly.

The network read happens on a worker thread; the view is driven from the
calling thread. That split gives two things a single loop cannot:

* a coalesced frame is shown on time even when the provider pauses (the
  caller waits on the queue only until the view's next frame is due), and
* every widget or terminal write happens on the thread that runs the cell,
  which is where ipykernel routes output to the right cell.

On Ctrl-C / kernel interrupt the calling thread gets ``KeyboardInterrupt``
(it is the main thread, blocked in an interruptible ``Queue.get``); the
worker is told to stop and closes the HTTP response itself, since a
generator may only be closed by the thread running it.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass
from types import FrameType
from typing import Any, Protocol

from kagura_magic.errors import AgentError
from kagura_magic.sigint import Handler, sigint_handler

_END = object()
STOP_GRACE = 1.0  # seconds to wait for the worker to close the connection


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


class _Worker(threading.Thread):
    def __init__(self, stream: Any) -> None:
        super().__init__(name="kagura-stream", daemon=True)
        self.stream = stream
        self.pieces: queue.Queue[Any] = queue.Queue()
        self.stop_requested = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            for piece in self.stream:
                if self.stop_requested.is_set():
                    break
                self.pieces.put(piece)
        except BaseException as exc:  # handed to the calling thread, which reports it
            self.error = exc
        finally:
            self.stream.close()
            self.pieces.put(_END)


def pump(stream: Any, view: View) -> Outcome:
    """Feed ``stream`` (a ``TextStream``) into ``view`` until it ends, fails or is interrupted.

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
    worker = _Worker(stream)
    worker.start()
    try:
        while True:
            if interrupted.is_set():  # a Ctrl-C whose KeyboardInterrupt something swallowed
                raise KeyboardInterrupt
            try:
                item = worker.pieces.get(timeout=view.due_in())
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
        worker.stop_requested.set()
        worker.join(STOP_GRACE)
        _drain(worker, view, stream)
        view.flush(stream.stats)
        return Outcome(stream.text, interrupted=True)
    worker.join(STOP_GRACE)
    view.flush(stream.stats)
    if isinstance(worker.error, AgentError):
        return Outcome(stream.text, error=worker.error)
    if worker.error is not None:
        raise worker.error
    return Outcome(stream.text)


def _drain(worker: _Worker, view: View, stream: Any) -> None:
    """Show pieces that arrived before the interrupt took effect: what was streamed is kept."""
    while True:
        try:
            item = worker.pieces.get_nowait()
        except queue.Empty:
            return
        if item is _END:
            return
        view.feed(item, stream.stats)
