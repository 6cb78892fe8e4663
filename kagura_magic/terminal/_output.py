"""Writing to a terminal without losing a byte.

Under ``python -u`` or ``PYTHONUNBUFFERED`` (the usual setting in containers
and CI), ``sys.stdout`` and ``sys.stderr`` write straight to the raw file, and
CPython silently drops the part of a write that a signal cut short
(python/cpython#85393): resizing the window or Ctrl-Z then ``fg`` in the middle
of a frame loses its end. For a live view that is worse than a missing word:
the cursor is then on another row than the view believes, and every later
redraw overwrites the wrong rows. ``write_all`` writes the raw file itself, in
a loop, when there is no buffer in between to do it.
"""

from __future__ import annotations

import io
import select
import time
from typing import TextIO

__all__ = ["write_all"]


def write_all(stream: TextIO, text: str) -> None:
    """Write all of ``text`` to ``stream`` and flush it."""
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
