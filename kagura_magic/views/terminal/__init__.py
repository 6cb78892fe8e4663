"""The terminal's view of a streamed answer (the CLI, and ``%%agent`` in terminal IPython).

On a terminal the answer is live Markdown rendered with ``rich`` (``_live``:
finished blocks printed once, a small live region redrawn below them); when
stdout is a pipe or a file, the raw Markdown goes there byte for byte
(``_plain``). Spinner and status line go to stderr either way.
"""

from __future__ import annotations

import os
import sys
from typing import Any, TextIO

from ._live import LiveMarkdownView, LiveRegion
from ._output import write_all
from ._plain import PlainStreamView, PlainTextView, Spinner, status_line, wants_color
from ._render import Renderer, plain

__all__ = [
    "LiveMarkdownView",
    "LiveRegion",
    "MagicTerminalView",
    "PlainStreamView",
    "PlainTextView",
    "Renderer",
    "Spinner",
    "make_view",
    "plain",
    "status_line",
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


def make_view(
    label: str, out: TextIO | None = None, err: TextIO | None = None, plain_text: bool = False
) -> LiveMarkdownView | PlainStreamView:
    """The view for ``out``: live Markdown on a terminal, raw text otherwise (or when asked)."""
    out = out or sys.stdout
    if not plain_text and wants_live(out):
        return LiveMarkdownView(label, out=out, err=err)
    return PlainStreamView(label, out=out, err=err)


class MagicTerminalView:
    """``%%agent`` without widgets: the same view as the CLI, behind the notebook view's interface.

    Errors are not printed here: the magic ends the cell with them, once.
    """

    def __init__(self, label: str, out: TextIO | None = None, err: TextIO | None = None) -> None:
        self._view = make_view(label, out=out, err=err)

    @property
    def text(self) -> str:
        return self._view.text

    def start(self) -> None:
        self._view.start()

    def feed(self, piece: str, stats: Any = None) -> None:
        self._view.feed(piece, stats)

    def due_in(self) -> float | None:
        return self._view.due_in()

    def flush(self, stats: Any = None) -> None:
        self._view.flush(stats)

    def settle(self, stats: Any = None, note: str | None = None, error: bool = False, **kwargs: Any) -> None:
        self._view.settle(stats, note=note, error=error, **kwargs)
