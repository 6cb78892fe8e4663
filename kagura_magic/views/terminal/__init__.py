"""The terminal's view of a streamed answer (the CLI, and ``%%agent`` in terminal IPython).

On a terminal the answer is live Markdown rendered with ``rich`` (``_live``:
finished blocks printed once, a small live region redrawn below them); when
stdout is a pipe or a file, the raw Markdown goes there byte for byte
(``_plain``). Spinner and status line go to stderr either way. What reaches
a terminal never carries the answer's control characters, only their visible
form (``_controls``): model text must not set the title or the clipboard.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import TextIO

from kagura_magic.formats import fenced
from kagura_magic.llm import StreamStats, ToolCallEvent
from kagura_magic.views._protocol import LiveMode, Outcome, View

from ._controls import visible_controls
from ._live import LiveMarkdownView, LiveRegion
from ._output import write_all
from ._plain import PlainStreamView, PlainTextView, Spinner, status_line, wants_color
from ._render import Renderer, plain
from ._thinking import ThinkingMode

__all__ = [
    "HeldView",
    "LiveMarkdownView",
    "LiveRegion",
    "PlainStreamView",
    "PlainTextView",
    "Renderer",
    "Spinner",
    "TerminalView",
    "ThinkingMode",
    "make_view",
    "plain",
    "status_line",
    "visible_controls",
    "wants_color",
    "wants_live",
    "write_all",
]


def wants_live(out: TextIO) -> bool:
    """Live Markdown only on a real terminal that can move its cursor."""
    try:
        tty = out.isatty()
    except (AttributeError, ValueError):
        return False
    return tty and os.environ.get("TERM", "") != "dumb"


TerminalView = LiveMarkdownView | PlainStreamView


def make_view(
    label: str,
    out: TextIO | None = None,
    err: TextIO | None = None,
    *,
    mode: LiveMode = "markdown",
    quiet: bool = False,
    thinking: ThinkingMode = "live",
) -> View:
    """The view for ``out``: live Markdown on a terminal, raw text otherwise.

    ``verbatim`` answers (``-f text``, ``-f html``) are written as they are,
    even on a terminal: rendering them as Markdown would change them. ``data``
    (``-f json``) is held until complete, then shown as its parsed value:
    half a JSON document is not worth reading, and what a terminal has
    printed cannot be replaced by the pretty form afterwards. ``thinking``
    is how a reasoning model's thinking is shown (``_thinking``).
    """
    out = out or sys.stdout
    view: TerminalView
    if mode == "markdown" and wants_live(out):
        view = LiveMarkdownView(label, out=out, err=err, quiet=quiet, thinking=thinking)
    elif mode == "data" and wants_live(out):
        return HeldView(LiveMarkdownView(label, out=out, err=err, quiet=quiet, thinking=thinking))
    else:
        view = PlainStreamView(label, out=out, err=err, quiet=quiet, thinking=thinking)
    return view


class HeldView:
    """Shows nothing of the answer until it is complete, then its final form (see ``make_view``).

    The inner view's spinner keeps turning meanwhile. If the answer is not
    complete, what arrived is shown as it is: nothing streamed is lost.
    """

    def __init__(self, inner: TerminalView) -> None:
        self._inner = inner
        self._pieces: list[str] = []

    @property
    def text(self) -> str:
        return "".join(self._pieces)

    def start(self) -> None:
        self._inner.start()

    def think(self, piece: str, stats: StreamStats | None = None) -> None:
        self._inner.think(piece, stats)  # thinking is worth reading as it comes; the answer is held

    def call(self, call: ToolCallEvent, stats: StreamStats | None = None) -> None:
        self._inner.call(call, stats)

    def feed(self, piece: str, stats: StreamStats | None = None) -> None:
        if piece and not self._pieces:
            self._inner.stop_thinking()  # "Thought for N s" now, not when the held answer shows
        self._pieces.append(piece)

    def offer_stop(self, stop: Callable[[], None]) -> None:
        """Nothing to click on a terminal: Ctrl-C is the stop."""

    def due_in(self) -> float | None:
        return self._inner.due_in() if not self._pieces else None  # the thinking's frames

    def flush(self, stats: StreamStats | None = None) -> None:
        if not self._pieces:
            self._inner.flush(stats)

    def settle(self, outcome: Outcome) -> None:
        shown = outcome.rendering.markdown if outcome.ok else None
        if shown is None:
            shown = fenced(self.text) if self.text else ""
        self._inner.feed(shown)
        self._inner.settle(outcome)
