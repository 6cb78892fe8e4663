"""Tests for ``kagura_magic.views.terminal._live``: the live view, replayed cell by cell through pyte.

The tests drive ``LiveMarkdownView`` with a virtual clock and feed its bytes to
an emulator as they are written, so a resize can happen between two exact
frames. What "same picture" means, before and after a resize: see
``tests/terminal_helpers.py``.
"""

from __future__ import annotations

import functools
import io
import random
import re
from dataclasses import dataclass, field

import pytest
from rich.console import Console
from rich.live import Live
from rich.markdown import Markdown

from kagura_magic.views import Outcome
from kagura_magic.views.terminal import LiveMarkdownView, plain
from kagura_magic.views.terminal._live import FRAME_INTERVAL, SCREEN_MARGIN
from tests.pty_harness import Picture, Terminal, replay
from tests.terminal_helpers import (
    ANSWER,
    CJK,
    NESTED,
    PROSE,
    SMALL,
    SYSTEM,
    TABLE,
    assert_same_after_resize,
    code_block,
    content,
    reference,
    reference_rows,
)

SIZES = [(80, 24), (100, 30)]


# -- helpers ---------------------------------------------------------------------------------
class Clock:
    """Virtual time: a stream at N tokens/s without waiting for it."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class EmulatorOut(io.TextIOBase):
    """A file the view writes to: every write goes straight into the emulator."""

    def __init__(self, terminal: Terminal) -> None:
        self.terminal = terminal
        self.bytes = 0

    def write(self, data: str) -> int:
        encoded = data.encode()
        self.bytes += len(encoded)
        self.terminal.feed(encoded)
        return len(data)


@dataclass
class Streamed:
    picture: Picture
    bytes: int
    frames: int
    duration: float
    region_heights: list[int] = field(default_factory=list)
    frame_times: list[float] = field(default_factory=list)
    extras: list[int] = field(default_factory=list)
    cuts: set[int] = field(default_factory=set)


def stream(
    text: str,
    size: tuple[int, int] = (80, 24),
    tokens_per_second: float = 600,
    piece: int = 4,
    color: bool = True,
    resize: tuple[int, tuple[int, int]] | None = None,
) -> Streamed:
    """Stream ``text`` into a live view on an emulator, as the pump would at that pace."""
    terminal = Terminal(*size)
    out = EmulatorOut(terminal)
    clock = Clock()
    current = list(size)
    view = LiveMarkdownView("demo/echo", out=out, err=io.StringIO(), size=lambda: tuple(current), clock=clock,
                            color=color, color_system=SYSTEM, spinner=False)  # fmt: skip
    result = Streamed(terminal.picture(), 0, 0, 0.0)
    original = view.region.update

    def update(*args: object, **kwargs: object) -> None:
        original(*args, **kwargs)  # type: ignore[arg-type]
        result.region_heights.append(len(view.region.rows))
        result.frame_times.append(clock.now)
        result.extras.append(view._frozen.extra)
        result.cuts.add(len(view._frozen.cut.source))

    view.region.update = update  # type: ignore[method-assign]
    step = 1 / tokens_per_second if tokens_per_second else 0.0
    for index, start in enumerate(range(0, len(text), piece)):
        if resize is not None and index == resize[0]:
            current[:] = resize[1]
            terminal.resize(*resize[1])
        clock.now += step
        due = view.due_in()
        if due is not None and due <= 0:
            view.flush()  # the pump's queue wait timed out: a frame between two pieces
        view.feed(text[start : start + piece])
        if view.due_in() == 0:
            view.flush()
    view.settle(Outcome("complete", view.text))
    result.picture, result.bytes, result.frames, result.duration = (
        terminal.picture(),
        out.bytes,
        view.frames,
        clock.now,
    )
    return result


@functools.cache
def streamed_answer(size: tuple[int, int], tokens_per_second: int) -> Streamed:
    """``ANSWER`` streamed once per size and speed; several tests look at the same run."""
    return stream(ANSWER, size, tokens_per_second)


# -- the live view, in process ---------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("tokens_per_second", [600, 0], ids=["600tps", "fullspeed"])
def test_same_picture_as_printing_at_once(size: tuple[int, int], tokens_per_second: int) -> None:
    result = streamed_answer(size, tokens_per_second)
    expected = reference(ANSWER, size)
    assert result.picture.lines == expected.lines  # text first: a readable failure
    assert result.picture.rows == expected.rows  # then every cell's colours and attributes
    assert max(result.region_heights) <= size[1] - SCREEN_MARGIN  # the live region fits the screen


@pytest.mark.slow
@pytest.mark.parametrize("piece", [1, 7, 64])
def test_same_picture_whatever_the_piece_size(piece: int) -> None:
    text = "\n\n".join([PROSE, code_block(40), NESTED, CJK]) + "\n"
    assert stream(text, (80, 24), 600, piece=piece).picture.rows == reference(text, (80, 24)).rows


MIX = (
    "\n\n".join(
        [
            NESTED,
            code_block(30),
            "> quote\n> - a\n> - b",
            TABLE,
            CJK,
            "1. a\n\n   ```py\n   x = 1\n   ```\n2. b",
        ]
    )
    + "\n"
)


@pytest.mark.slow
@pytest.mark.parametrize(("size", "seed"), [((50, 12), 1), ((50, 12), 2), ((80, 24), 3)])
def test_same_picture_at_random_frame_boundaries(size: tuple[int, int], seed: int) -> None:
    """Pieces of 1-40 characters and a frame after any of them: a small screen freezes often."""
    rnd = random.Random(seed)
    terminal = Terminal(*size)
    view = LiveMarkdownView("m", out=EmulatorOut(terminal), size=lambda: size, clock=Clock(), color=True,
                            color_system=SYSTEM, spinner=False)  # fmt: skip
    start = 0
    while start < len(MIX):
        end = start + rnd.randint(1, 40)
        view.feed(MIX[start:end])
        start = end
        if rnd.random() < 0.3:
            view.flush()
    view.settle(Outcome("complete", view.text))
    assert terminal.picture().rows == reference(MIX, size).rows


@pytest.mark.slow
def test_long_code_block_and_list_are_frozen_at_sound_cuts_only() -> None:
    """A 200-line fence and a 12-item list never need the unsound fallback at 80×24."""
    text = code_block() + "\n\n" + NESTED + "\n"
    result = stream(text, (80, 24), 600)
    assert max(result.extras) == 0 and len(result.cuts) > 5  # frozen many times, always at a sound cut
    assert result.picture.rows == reference(text, (80, 24)).rows


def _frame_after_every_piece(text: str, size: tuple[int, int], cuts: list[int]) -> Picture:
    """Feed ``text`` cut at ``cuts`` with a frame after every piece, as a fast pump would."""
    terminal = Terminal(*size)
    view = LiveMarkdownView("m", out=EmulatorOut(terminal), size=lambda: size, clock=Clock(), color=True,
                            color_system=SYSTEM, spinner=False)  # fmt: skip
    for start, end in zip([0, *cuts], [*cuts, len(text)], strict=True):
        view.feed(text[start:end])
        view.flush()
    view.settle(Outcome("complete", view.text))
    return terminal.picture()


@pytest.mark.slow
@pytest.mark.parametrize("size", [(80, 24), (40, 15)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_blank_code_lines_at_a_frozen_cut_are_kept(size: tuple[int, int]) -> None:
    """Frames that end just past a blank code line: the blank row is printed, no row twice.

    A code block's rendering ends at its last non-blank line, so a cut there
    once froze one row too few and printed a later row again.
    """
    functions = [f"def f{i}(x):\n    return x + {i}\n" for i in range(24)]
    text = "```python\n" + "\n".join(functions) + "```\n"
    blank_then_code = [m.start() + 3 for m in re.finditer(r"\n\nd", text)]
    for seed in range(4):
        cuts = sorted(random.Random(seed).sample(blank_then_code, 6))
        assert _frame_after_every_piece(text, size, cuts).rows == reference(text, size).rows


def test_code_after_a_cut_keeps_its_colours_inside_a_docstring() -> None:
    """Code below a frozen cut is coloured as in the whole block: a docstring stays a string.

    The rows after a cut are rendered from the cut on; inside a multi-line
    string that loses the lexer's state, so such a cut is not taken.
    """
    lines = "\n".join(f"line {i}" for i in range(1, 43))
    text = f'```python\nHELP = """\n{lines}\n"""\nprint(HELP)\n```\n'
    cuts = [text.index("line 22\n") + 9, text.index("line 42\n") + 1]
    picture = _frame_after_every_piece(text, (80, 24), cuts)
    expected = reference(text, (80, 24))
    assert picture.lines == expected.lines
    assert picture.rows == expected.rows


def _tall_table(rows: int = 40) -> str:
    """A table whose later rows are wider: its column widths change while it streams."""
    head = TABLE.split("\n")[0] + "\n" + TABLE.split("\n")[1] + "\n"
    body = [f"| r{i} | {i} | {i * 10 ** (i // 8)} | {'x' * (i // 4)} | ok |" for i in range(rows)]
    return head + "\n".join(body) + "\n"


@pytest.mark.slow
def test_a_table_taller_than_the_screen_fits_the_region_and_is_printed_whole() -> None:
    """No sound cut in a table: its last rows are live, then the finished table is printed once."""
    text = "Intro paragraph.\n\n" + _tall_table() + "\nAfter the table.\n"
    result = stream(text, (80, 24), 600)
    assert max(result.region_heights) <= 24 - SCREEN_MARGIN
    assert result.picture.rows == reference(text, (80, 24)).rows


@pytest.mark.slow
def test_interrupted_inside_a_tall_table_keeps_all_of_it() -> None:
    """The table's first rows were out of sight, not lost: stopping there prints all of it."""
    text = "Intro paragraph.\n\n" + _tall_table()
    cut = text.index("| r30 |")
    terminal = Terminal(80, 24)
    view = LiveMarkdownView("m", out=EmulatorOut(terminal), size=lambda: (80, 24), clock=Clock(),
                            color_system=SYSTEM, spinner=False)  # fmt: skip
    for start in range(0, cut, 4):
        view.feed(text[start : min(start + 4, cut)])
        view.flush()
    assert len(view.region.rows) <= 24 - SCREEN_MARGIN
    view.settle(Outcome("interrupted", view.text))
    lines = terminal.picture().lines
    assert [line for line in lines if "r0 " in line] and [line for line in lines if "r29 " in line]
    assert content(lines) == content([plain(row) for row in reference_rows(text[:cut], 80)])


@pytest.mark.slow
def test_bytes_are_few_and_frames_at_most_twenty_a_second() -> None:
    result = streamed_answer((80, 24), 600)
    final = len(("\n".join(reference_rows(ANSWER, 80)) + "\n").encode())
    assert result.bytes <= 8 * final, (result.bytes, final)
    assert result.frames <= result.duration / FRAME_INTERVAL + 2
    gaps = [b - a for a, b in zip(result.frame_times, result.frame_times[1:], strict=False)]
    assert min(gaps[:-1]) >= FRAME_INTERVAL - 1e-9  # the last one is settle's, at once


@pytest.mark.slow
def test_ten_times_fewer_bytes_than_naive_rich_live() -> None:
    """The naive way: ``rich.Live(Markdown(all text so far))``, redrawn on the same frames."""
    result = stream(SMALL, (80, 24), 600)
    buffer = io.StringIO()
    console = Console(file=buffer, width=80, height=24, force_terminal=True, color_system=SYSTEM)
    # "visible" is the only overflow mode that shows the whole answer (crop/ellipsis cut it).
    with Live(console=console, auto_refresh=False, vertical_overflow="visible") as live:
        for moment in result.frame_times:
            live.update(Markdown(SMALL[: int(moment * 600) * 4]), refresh=True)
    naive = len(buffer.getvalue().encode())
    assert naive >= 10 * result.bytes, (naive, result.bytes)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("before", "after", "moment"),
    [((80, 24), (100, 30), 0.3), ((100, 30), (80, 24), 0.9)],
    ids=["grow-in-code", "shrink-in-list"],
)
def test_resize_mid_stream(before: tuple[int, int], after: tuple[int, int], moment: float) -> None:
    pieces = len(ANSWER) // 4
    result = stream(ANSWER, before, 600, resize=(int(pieces * moment), after))
    assert_same_after_resize(result.picture.lines, ANSWER, before[0], after[0])


def test_interrupted_answer_keeps_what_was_shown() -> None:
    terminal = Terminal(80, 24)
    view = LiveMarkdownView(
        "m", out=EmulatorOut(terminal), size=lambda: (80, 24), clock=Clock(), spinner=False
    )
    view.feed("## Partial\n\nSome **bold text that never clo")
    view.flush()
    view.settle(Outcome("interrupted", view.text))
    lines = terminal.picture().lines
    assert lines[-1] == "Some bold text that never clo" and "**" not in "".join(lines)
    assert terminal.picture().cursor == (0, len(lines))  # ready for the caller's message below


@pytest.mark.slow
def test_no_color_keeps_layout_without_colour() -> None:
    out = io.StringIO()
    view = LiveMarkdownView("m", out=out, size=lambda: (80, 24), clock=Clock(), color=False, spinner=False)
    view.feed(ANSWER)
    view.settle(Outcome("complete", view.text))
    colours = re.findall(r"\x1b\[([0-9;]*)m", out.getvalue())
    assert not [c for c in colours if re.search(r"(^|;)(3[0-9]|4[0-9]|9[0-7]|10[0-7])(;|$)", c)]
    assert replay(out.getvalue(), 80, 24).lines == reference(ANSWER, (80, 24), color=False).lines


def test_first_token_is_drawn_at_once_then_frames_are_coalesced() -> None:
    clock = Clock()
    view = LiveMarkdownView("m", out=io.StringIO(), size=lambda: (80, 24), clock=clock, spinner=False)
    assert view.due_in() is None
    view.feed("Hello")
    assert view.due_in() == 0
    view.flush()
    view.feed(" world")
    assert view.due_in() == pytest.approx(FRAME_INTERVAL)
    clock.now += FRAME_INTERVAL
    assert view.due_in() == 0
