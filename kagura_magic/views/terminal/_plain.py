"""The raw-text side of the terminal view: the spinner, the status line, piped output.

When stdout is not a terminal, the answer's Markdown goes to stdout exactly
as it arrives, byte for byte; everything about the answer (spinner, status,
errors) goes to stderr, so that ``python -m kagura_magic ... > answer.md``
captures the answer and only it. With ``--plain`` on a terminal the text is
the same but its control characters are shown, not obeyed (``_controls``).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import sys
import threading
from typing import TextIO

from kagura_magic.llm import StreamStats
from kagura_magic.views._protocol import Outcome

from ._controls import visible_controls
from ._output import write_all

_FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


def wants_color(stream: TextIO) -> bool:
    """Colour only on a terminal, and never when ``NO_COLOR`` is set (no-color.org)."""
    return stream.isatty() and not os.environ.get("NO_COLOR")


def status_line(text: str, color: bool) -> str:
    """The dim one-line summary after an answer (plain when colour is off)."""
    return f"\x1b[2m{text}\x1b[0m" if color else text


class Spinner:
    """A one-line spinner on stderr until the first token; erased without a trace."""

    def __init__(self, label: str, stream: TextIO | None = None, interval: float = 0.08) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> Spinner:
        if self.stream.isatty():
            self._thread = threading.Thread(target=self._spin, name="kagura-spinner", daemon=True)
            self._thread.start()
        return self

    def _spin(self) -> None:
        label = self.label
        # A label that wraps would leave its first line behind when erased.
        with contextlib.suppress(AttributeError, ValueError, OSError):
            label = label[: max(os.get_terminal_size(self.stream.fileno()).columns - 3, 0)]
        for frame in itertools.cycle(_FRAMES):
            with self._lock:
                if self._stop.is_set():
                    return
                write_all(self.stream, f"\r{frame} {label}")
            if self._stop.wait(self.interval):
                return

    def stop(self) -> None:
        """Erase the spinner line; safe to call more than once."""
        if self._thread is None or self._stop.is_set():
            self._stop.set()
            return
        with self._lock:
            self._stop.set()
            write_all(self.stream, "\r\x1b[2K")
        self._thread.join(timeout=1)


class PlainTextView:
    """Writes the answer's Markdown to stdout as it arrives: byte for byte to a pipe or a file,
    with its control characters made visible on a terminal."""

    def __init__(self, out: TextIO | None = None, err: TextIO | None = None, label: str = "") -> None:
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self._spinner = Spinner(f"Thinking… {label}".rstrip(), self.err)
        self._ended_with_newline = True
        self._wrote = False
        self._tty = _isatty(self.out)
        self._held_cr = ""  # on a terminal, a trailing "\r" waits: it may be half of "\r\n"

    def start(self) -> None:
        if self.out.isatty():
            self._spinner.start()

    def feed(self, piece: str) -> None:
        if not piece:
            return
        self._spinner.stop()
        self._wrote = True
        self._ended_with_newline = piece.endswith("\n")
        if self._tty:
            piece, self._held_cr = self._held_cr + piece, ""
            if piece.endswith("\r"):
                piece, self._held_cr = piece[:-1], "\r"
            piece = visible_controls(piece)
        write_all(self.out, piece)

    def finish(self, status: str | None = None, note: str | None = None, error: bool = False) -> None:
        """End the answer: a final newline on stdout, then status or note on stderr."""
        self._spinner.stop()
        held, self._held_cr = visible_controls(self._held_cr), ""
        write_all(self.out, held + ("\n" if self._wrote and not self._ended_with_newline else ""))
        lines = [self._style(line, error=error and line is note) + "\n" for line in (note, status) if line]
        write_all(self.err, "".join(lines))

    def _style(self, line: str, error: bool) -> str:
        if not wants_color(self.err):
            return line
        return f"\x1b[31m{line}\x1b[0m" if error else status_line(line, True)


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # closed, or not a real stream
        return False


class PlainStreamView:
    """``PlainTextView`` behind the ``View`` protocol.

    Every piece is written at once: a pipe's reader wants bytes as they come,
    and there is nothing to coalesce. Errors are not printed here: the caller
    (the magic, the CLI) ends with them, once.
    """

    def __init__(
        self, label: str, out: TextIO | None = None, err: TextIO | None = None, *, quiet: bool = False
    ) -> None:
        self._text = PlainTextView(out=out, err=err, label=label)
        self._pieces: list[str] = []
        self._quiet = quiet

    @property
    def text(self) -> str:
        return "".join(self._pieces)

    @property
    def pieces(self) -> int:
        return len(self._pieces)

    def start(self) -> None:
        self._text.start()

    def think(self, piece: str, stats: StreamStats | None = None) -> None:
        """The terminal shows no thinking text: the spinner turns until the answer begins."""

    def feed(self, piece: str, stats: StreamStats | None = None) -> None:
        self._pieces.append(piece)
        self._text.feed(piece)

    def due_in(self) -> float | None:
        return None

    def flush(self, stats: StreamStats | None = None) -> None:
        pass

    def settle(self, outcome: Outcome) -> None:
        show = outcome.ok and outcome.stats is not None and self.text and not self._quiet
        self._text.finish(status=outcome.stats.summary() if show and outcome.stats else None)
