"""Tests for ``kagura_magic.views.terminal._render``: ``Renderer``, rich's Markdown block by block."""

from __future__ import annotations

import io

from rich.console import Console
from rich.markdown import Markdown

from kagura_magic.views.terminal import Renderer, plain
from tests.terminal_helpers import CJK, NESTED, PROSE, SYSTEM, TABLE, code_block


def test_rendering_is_compositional_over_blocks() -> None:
    renderer = Renderer(79, color_system=SYSTEM)
    blocks = ["# Title", PROSE, code_block(30), TABLE, NESTED, CJK]
    whole = renderer.rows("\n\n".join(blocks) + "\n")
    pieced: list[str] = []
    for block in blocks:
        pieced += ([""] if pieced else []) + renderer.rows(block + "\n")
    assert whole == pieced


def test_rendering_matches_rich_markdown_for_plain_blocks() -> None:
    """Ours is rich's Markdown, block by block: same text for prose, headings, quotes, tables."""
    text = "## Heading\n\n" + PROSE + "\n\n> a quote that is long enough to wrap " * 3 + "\n\n" + TABLE + "\n"
    console = Console(file=io.StringIO(), width=79, color_system=None, legacy_windows=False)
    ours = [plain(row).rstrip() for row in Renderer(79, color=False).rows(text)]
    lines = console.render_lines(Markdown(text, hyperlinks=False), console.options, pad=False)
    theirs = ["".join(segment.text for segment in line).rstrip() for line in lines]
    strip = lambda rows: [row for row in rows if row]  # noqa: E731 - rich puts one more blank around a table
    assert strip(ours) == strip(theirs)


def test_code_rows_grow_only_at_the_end() -> None:
    """The premise of freezing a long code block: the first k lines' rows start the block's rows."""
    renderer = Renderer(79, color_system=SYSTEM)
    full = renderer.rows(code_block(60))
    head = renderer.rows(code_block(60).rsplit("\n", 30)[0] + "\n```\n")
    assert full[: len(head)] == head and len(head) < len(full)


def test_ordered_list_numerals_do_not_shift_when_the_tenth_item_comes() -> None:
    renderer = Renderer(79, color_system=SYSTEM)
    nine = renderer.rows("\n".join(f"{i}. item {i}" for i in range(1, 10)))
    twelve = renderer.rows("\n".join(f"{i}. item {i}" for i in range(1, 13)))
    assert twelve[:9] == nine
