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
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

from kagura_magic.llm import StreamStats, ToolCallEvent
from kagura_magic.views._calls import calls_text
from kagura_magic.views._protocol import Outcome, thought_label

from ._controls import visible_controls
from ._output import write_all

if TYPE_CHECKING:
    from ._thinking import ThinkingMode

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
        self._since: float | None = None  # a clock after the label ("Thinking… 7 s") from then
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> Spinner:
        if self.stream.isatty():
            self._thread = threading.Thread(target=self._spin, name="kagura-spinner", daemon=True)
            self._thread.start()
        return self

    def retitle(self, label: str, since: float | None = None) -> None:
        """Say something else from the next frame on, with the seconds since ``since`` after it."""
        with self._lock:
            self.label, self._since = label, since

    def _line(self) -> str:
        label = self.label
        if self._since is not None:
            label = f"{label} {time.monotonic() - self._since:.0f} s"
        # A label that wraps would leave its first line behind when erased.
        with contextlib.suppress(AttributeError, ValueError, OSError):
            label = label[: max(os.get_terminal_size(self.stream.fileno()).columns - 3, 0)]
        return label

    def _spin(self) -> None:
        for frame in itertools.cycle(_FRAMES):
            with self._lock:
                if self._stop.is_set():
                    return
                write_all(self.stream, f"\r\x1b[2K{frame} {self._line()}")
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


def waiting_label(label: str) -> str:
    """What the spinner says before anything arrives (as the notebook's does)."""
    return f"Waiting for {label}…" if label else "Waiting…"


def calling_label(call: ToolCallEvent) -> str:
    """What the spinner says while a tool call's arguments arrive."""
    return f"Writing a call to {call.name or 'a tool'}…"


class PlainTextView:
    """Writes the answer's Markdown to stdout as it arrives: byte for byte to a pipe or a file,
    with its control characters made visible on a terminal."""

    def __init__(self, out: TextIO | None = None, err: TextIO | None = None, label: str = "") -> None:
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.spinner = Spinner(waiting_label(label), self.err)
        self._ended_with_newline = True
        self._wrote = False
        self._tty = _isatty(self.out)
        self._held_cr = ""  # on a terminal, a trailing "\r" waits: it may be half of "\r\n"

    def start(self) -> None:
        if self.out.isatty():
            self.spinner.start()

    def feed(self, piece: str) -> None:
        if not piece:
            return
        self.spinner.stop()
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
        self.spinner.stop()
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
    (the magic, the CLI) ends with them, once. Thinking and tool calls never
    reach stdout, which holds the answer's Markdown only: thinking goes to
    stderr as it arrives with ``--show-thinking`` (``keep``), else the spinner
    counts its seconds; tool calls are listed on stderr at the end.
    """

    def __init__(
        self,
        label: str,
        out: TextIO | None = None,
        err: TextIO | None = None,
        *,
        quiet: bool = False,
        thinking: ThinkingMode = "live",
    ) -> None:
        self._text = PlainTextView(out=out, err=err, label=label)
        self._pieces: list[str] = []
        self._quiet = quiet
        self._thinking = thinking
        self._thinking_since: float | None = None
        self._thought_for: float | None = None
        self._thought_ends_line = True

    @property
    def text(self) -> str:
        return "".join(self._pieces)

    @property
    def pieces(self) -> int:
        return len(self._pieces)

    def start(self) -> None:
        self._text.start()

    def think(self, piece: str, stats: StreamStats | None = None) -> None:
        if not piece or self._pieces or self._thought_for is not None:
            return  # reasoning after the answer (or a call) began is kept by the stream, not shown
        err = self._text.err
        if self._thinking_since is None:
            self._thinking_since = time.monotonic()
            if self._thinking != "keep":
                self._text.spinner.retitle("Thinking…", self._thinking_since)
        if self._thinking == "keep":
            self._text.spinner.stop()
            write_all(err, status_line(visible_controls(piece), wants_color(err)))  # stderr: never raw
            self._thought_ends_line = piece.endswith("\n")

    def feed(self, piece: str, stats: StreamStats | None = None) -> None:
        if piece and not self._pieces:
            self.stop_thinking()
        self._pieces.append(piece)
        self._text.feed(piece)

    def call(self, call: ToolCallEvent, stats: StreamStats | None = None) -> None:
        self.stop_thinking()
        if not self._pieces:
            self._text.spinner.retitle(calling_label(call))

    def stop_thinking(self) -> None:
        """The model stopped thinking: one line on stderr says for how long (where someone reads it)."""
        if self._thinking_since is None or self._thought_for is not None:
            return
        self._thought_for = time.monotonic() - self._thinking_since
        err = self._text.err
        self._text.spinner.stop()
        if self._thinking == "keep" or (self._thinking == "live" and _isatty(err)):
            newline = "" if self._thought_ends_line else "\n"
            write_all(err, newline + status_line(thought_label(self._thought_for), wants_color(err)) + "\n")

    def offer_stop(self, stop: Callable[[], None]) -> None:
        """Nothing to click on a terminal: Ctrl-C is the stop."""

    def due_in(self) -> float | None:
        return None

    def flush(self, stats: StreamStats | None = None) -> None:
        pass

    def settle(self, outcome: Outcome) -> None:
        if outcome.tool_calls:
            self.stop_thinking()
        elif self._thinking == "keep" and not self._thought_ends_line:
            write_all(self._text.err, "\n")  # what it thought ends its own line, before any message
            self._thought_ends_line = True
        shown = self.text or outcome.tool_calls
        show = outcome.ok and outcome.stats is not None and shown and not self._quiet
        if outcome.tool_calls:
            self._text.spinner.stop()
            write_all(self._text.err, visible_controls(calls_text(outcome.tool_calls)) + "\n")
        self._text.finish(status=outcome.stats.summary() if show and outcome.stats else None)
