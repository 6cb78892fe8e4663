"""Writing to a terminal without losing a byte.

Under ``python -u`` or ``PYTHONUNBUFFERED`` (the usual setting in containers
and CI), ``sys.stdout`` and ``sys.stderr`` write straight to the raw file, and
CPython silently drops the part of a write that a signal cut short
(python/cpython#85393): resizing the window or Ctrl-Z then ``fg`` in the middle
of a frame loses its end. For a live view that is worse than a missing word:
the cursor is then on another row than the view believes, and every later
redraw overwrites the wrong rows. ``write_all`` writes the raw file itself, in
a loop, when there is no buffer in between to do it.

Ctrl-C is the same hazard: its ``KeyboardInterrupt`` can be raised between
two partial writes of a frame. So a write holds SIGINT back until the frame
is out, then lets it go: the interrupt arrives a frame later, whole.
"""

from __future__ import annotations

import contextlib
import io
import select
import time
from collections.abc import Iterator
from types import FrameType
from typing import TextIO

from kagura_magic.views._sigint import Handler, sigint_handler

__all__ = ["write_all"]


def write_all(stream: TextIO, text: str) -> None:
    """Write all of ``text`` to ``stream`` and flush it, a Ctrl-C during it coming after it."""
    with _sigint_held_back():
        _write_all(stream, text)


def _write_all(stream: TextIO, text: str) -> None:
    raw = getattr(stream, "buffer", None)
    if not isinstance(raw, io.RawIOBase):  # buffered (the default), or not a real file: it loops itself
        stream.write(text)
        stream.flush()
        return
    stream.flush()  # whatever the text layer still holds goes first
    data = memoryview(text.encode(stream.encoding or "utf-8", stream.errors or "strict"))
    while data:
        written = raw.write(data)
        if written is None:  # a non-blocking file that is full: wait until it takes more
            _wait_writable(raw)
            continue
        data = data[written:]


def _wait_writable(raw: io.RawIOBase) -> None:
    try:
        select.select([], [raw.fileno()], [], 1.0)
    except (OSError, ValueError):  # no descriptor to wait on (io.UnsupportedOperation is both)
        time.sleep(0.01)


@contextlib.contextmanager
def _sigint_held_back() -> Iterator[None]:
    """Note a SIGINT that comes meanwhile and hand it to the real handler afterwards."""
    held: list[tuple[int, FrameType | None]] = []
    previous: Handler | None = None
    try:
        with sigint_handler(lambda _: lambda signum, frame: held.append((signum, frame))) as previous:
            yield
    finally:
        if held and previous is not None:
            previous(*held[0])  # normally raises KeyboardInterrupt, now that the frame is whole
