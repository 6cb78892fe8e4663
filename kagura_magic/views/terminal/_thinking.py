"""What a reasoning model thinks, as terminal rows: dim, behind a bar, laid out as Markdown.

Chat CLIs show thinking as it streams, muted, then fold it into one line
("Thought for 12 s") when the answer starts, so the scrollback holds the
answer and not the model's drafts; ``--show-thinking`` keeps it instead.
Which of the three a view does is its ``ThinkingMode``:

* ``hide``: only the spinner's clock ("Thinking… 7 s");
* ``live``: the last few rows of thinking under the clock, replaced by the
  one line when the answer starts;
* ``keep``: every row of thinking printed for good as its block finishes.

Rows are laid out by the answer's own renderer (lists, code, paragraphs),
then stripped of its colours and dimmed as a whole: thinking must read as
secondary at a glance, and colour inside dim text is hard to read.
"""

from __future__ import annotations

from typing import Literal

from kagura_magic.markdown import MarkdownStream

from ._plain import status_line
from ._render import Renderer, plain

__all__ = ["BAR", "ThinkingMode", "ThinkingRows"]

ThinkingMode = Literal["hide", "live", "keep"]

BAR = "│ "
"""Before every row of thinking: the terminal's form of the notebook section's left border."""


class ThinkingRows:
    """The thinking text as dim rows at a width: finished blocks rendered once, the open block per frame."""

    def __init__(self, color: bool) -> None:
        self.markdown = MarkdownStream()
        self._color = color
        self._renderer: Renderer | None = None
        self._finished: list[str] = []  # rows of committed source[:_rendered] at the renderer's width
        self._rendered = 0

    @property
    def text(self) -> str:
        return self.markdown.text

    @property
    def finished_source(self) -> str:
        """The thinking up to its last finished block: its rows can no longer change."""
        return self.markdown.committed_source

    def feed(self, piece: str) -> None:
        self.markdown.feed(piece)

    def rows(self, source: str, width: int, *, after_rows: bool) -> list[str]:
        """Rows of ``source`` (whole blocks), with the blank row that separates blocks when ``after_rows``."""
        rendered = self._renderer_for(width).rows(source) if source else []
        dimmed = [status_line((BAR + plain(row)).rstrip(), self._color) for row in rendered]
        return [status_line(BAR.rstrip(), self._color), *dimmed] if after_rows and dimmed else dimmed

    def finished_rows(self, width: int) -> list[str]:
        """Rows of every finished block, rendering only the blocks finished since the last call."""
        self._renderer_for(width)
        committed = self.finished_source
        if len(committed) > self._rendered:
            new = committed[self._rendered :]
            self._finished += self.rows(new, width, after_rows=bool(self._finished))
            self._rendered = len(committed)
        return self._finished

    def open_rows(self, width: int) -> list[str]:
        """Rows of the block still growing, healed as the answer's tail is (never shown broken)."""
        return self.rows(self.markdown.healed_tail(), width, after_rows=bool(self.finished_source))

    def _renderer_for(self, width: int) -> Renderer:
        inner = max(width - len(BAR), 10)
        if self._renderer is None or self._renderer.width != inner:
            self._renderer = Renderer(inner, color=False, color_system=None)
            self._finished, self._rendered = [], 0
        return self._renderer
