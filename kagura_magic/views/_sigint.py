"""Putting another SIGINT handler in place for a stretch of code, where that is possible.

Two places need it: the pump notes every Ctrl-C (its ``KeyboardInterrupt`` can
be swallowed on the way), and the terminal view holds a Ctrl-C back until the
frame it is writing is whole. Both wrap the handler already there, so Ctrl-C
still means ``KeyboardInterrupt`` (or whatever ipykernel made it mean).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

__all__ = ["Handler", "sigint_handler"]

Handler = Callable[[int, FrameType | None], Any]


@contextlib.contextmanager
def sigint_handler(make: Callable[[Handler], Handler]) -> Iterator[Handler | None]:
    """Run the block with ``make(current)`` as SIGINT's handler, then put ``current`` back.

    Yields ``current``. Only the main thread may set handlers, and only a
    Python handler is wrapped: off the main thread, or when SIGINT is ignored
    or left to the system, nothing changes and ``None`` is yielded.
    """
    current = signal.getsignal(signal.SIGINT)
    if threading.current_thread() is not threading.main_thread() or not callable(current):
        yield None
        return
    signal.signal(signal.SIGINT, make(current))
    try:
        yield current
    finally:
        signal.signal(signal.SIGINT, current)
