"""Markdown → terminal rows, one top-level block at a time.

The live view prints finished blocks once and redraws only the open tail, so
the rendering of a document must be *compositional*: the rows of ``A + B``
(``A`` ending where a top-level block ends) must be the rows of ``A``, one
blank row, then the rows of ``B``. ``rich``'s own ``Markdown`` is almost that;
we render each top-level block with it on its own and join them with one blank
row, which makes it exactly that. The answer printed all at once goes through
the same function, so "the same picture" has one definition.

Two of rich's elements are replaced so that a long open block can be printed
piecewise (see ``_live``):

* code blocks keep rich's ``Syntax`` highlighting and side padding but drop
  the blank rows above and below, so the rows of the first *k* code lines are
  the first rows of the whole block;
* ordered-list numerals get a column wide enough for 99 items from the start,
  instead of one sized by the item count (which would shift every item when
  the tenth arrives).

Rows are strings with SGR escapes, ours only: control characters in the
answer are made visible before rich sees it (``_controls``); trailing blanks
that carry no background are dropped, which keeps redraws small and
copy-paste clean.
"""

from __future__ import annotations

import io
import itertools
import re
from collections.abc import Iterable
from typing import ClassVar, Literal

from markdown_it import MarkdownIt
from markdown_it.token import Token
from rich.console import COLOR_SYSTEMS, Console, ConsoleOptions, RenderResult
from rich.markdown import CodeBlock, ListElement, Markdown, MarkdownElement
from rich.segment import Segment
from rich.syntax import Syntax

from ._controls import visible_controls

ColorSystemName = Literal["auto", "standard", "256", "truecolor", "windows"]
"""What rich's ``Console(color_system=...)`` takes."""

__all__ = ["PARSER", "Renderer", "plain", "top_level_blocks"]

PARSER = MarkdownIt().enable("strikethrough").enable("table")
"""The parser rich's ``Markdown`` uses: block boundaries must agree with its rendering."""

CODE_THEME = "monokai"
_SGR = re.compile(r"\x1b\[[0-9;]*m")


class _CodeBlock(CodeBlock):
    """rich's code block without the blank rows above and below: its rows grow only at the end."""

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        code = str(self.text).rstrip()
        yield Syntax(code, self.lexer_name, theme=self.theme, word_wrap=True, padding=(0, 1))


class _ListElement(ListElement):
    """A list whose numeral column does not depend on how many items follow.

    rich sizes it from the item count, so items 1-8 move one column right when
    the ninth arrives; rows already printed could not follow. Here the column
    fits two digits from the start and widens only at item 100.
    """

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if self.list_type == "bullet_list_open":
            yield from super().__rich_console__(console, options)
            return
        start = 1 if self.list_start is None else self.list_start
        for index, item in enumerate(self.items):
            number = start + index
            yield from item.render_number(console, options, number, max(number, 10))


class _AnswerMarkdown(Markdown):
    elements: ClassVar[dict[str, type[MarkdownElement]]] = {
        **Markdown.elements,
        "fence": _CodeBlock,
        "code_block": _CodeBlock,
        "bullet_list_open": _ListElement,
        "ordered_list_open": _ListElement,
    }


def top_level_blocks(source: str, tokens: Iterable[Token] | None = None) -> list[str]:
    """``source`` cut where top-level blocks start; the pieces join back to ``source``.

    Blank lines and link reference definitions (which make no token) stay
    with the block before them.
    """
    tokens = PARSER.parse(source) if tokens is None else tokens
    starts = sorted({t.map[0] for t in tokens if t.level == 0 and t.nesting >= 0 and t.map})
    if not starts:
        return [source] if source.strip() else []
    offsets = line_offsets(source)
    bounds = [0, *(offsets[line] for line in starts[1:]), len(source)]
    return [source[a:b] for a, b in itertools.pairwise(bounds) if a < b]


def line_offsets(source: str) -> list[int]:
    """Offset of each line start (and one past the end), for markdown-it's ``token.map``."""
    return [0, *(match.end() for match in re.finditer("\n", source))]


def plain(row: str) -> str:
    """A rendered row without its escapes: what a reader sees."""
    return _SGR.sub("", row)


class Renderer:
    """Renders Markdown into rows for a terminal of a given width.

    ``width`` is the number of columns rows may use. The live view passes one
    less than the terminal has: a row that fills the last column leaves the
    cursor in a "pending wrap" state that terminals treat differently, and a
    glyph whose width a terminal disagrees about would wrap and throw off the
    count of rows to redraw.
    """

    def __init__(self, width: int, color: bool = True, color_system: ColorSystemName | None = "auto") -> None:
        self.width = max(width, 10)
        self.color = color
        self.console = Console(
            file=io.StringIO(),
            width=self.width,
            force_terminal=True,
            color_system=color_system if color else None,
            legacy_windows=False,
            no_color=not color,
            highlight=False,
            emoji=False,
        )
        system = self.console.color_system
        self._system = COLOR_SYSTEMS[system] if system else None
        self._cache: dict[str, list[str]] = {}

    def rows(self, source: str) -> list[str]:
        """All rows of ``source``: its blocks' rows joined by one blank row."""
        rows: list[str] = []
        for block in top_level_blocks(source):
            block_rows = self.block_rows(block)
            if block_rows:
                if rows:
                    rows.append("")
                rows.extend(block_rows)
        return rows

    def block_rows(self, block: str) -> list[str]:
        """One top-level block's rows, without blank rows around it (cached: blocks repeat)."""
        cached = self._cache.get(block)
        if cached is not None:
            return cached
        # Before rich measures it: a visible form is wider than the control it shows.
        markdown = _AnswerMarkdown(visible_controls(block), code_theme=CODE_THEME, hyperlinks=False)
        lines = self.console.render_lines(markdown, self.console.options, pad=False, new_lines=False)
        rows = [self._row(line) for line in lines]
        while rows and not rows[-1]:
            rows.pop()
        while rows and not rows[0]:
            rows.pop(0)
        if len(self._cache) > 256:
            self._cache.clear()
        self._cache[block] = rows
        return rows

    def _row(self, line: list[Segment]) -> str:
        segments = _strip_blank_end([seg for seg in line if not seg.control])
        parts = []
        for text, style, _control in segments:
            if style is None or self._system is None:
                parts.append(text)
                continue
            parts.append(style.render(text, color_system=self._system))
        return "".join(parts)


def _strip_blank_end(segments: list[Segment]) -> list[Segment]:
    """Drop trailing spaces that show nothing (no background, underline or reverse)."""
    while segments:
        text, style, control = segments[-1]
        if style is not None and (style.bgcolor is not None or style.underline or style.reverse):
            break
        stripped = text.rstrip(" ")
        if stripped:
            segments[-1] = Segment(stripped, style, control)
            break
        segments.pop()
    return segments
