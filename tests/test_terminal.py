"""The terminal view: what a user sees, replayed cell by cell through a VT emulator (pyte).

Two layers. In-process tests drive ``LiveMarkdownView`` with a virtual clock
and feed its bytes to an emulator as they are written, so a resize can happen
between two exact frames. Pseudo-terminal tests run the real CLI and terminal
IPython on a pty (``tests/pty_harness.py``), offline on ``demo/echo``.

**The reference picture** is the finished answer rendered at once by the same
renderer (``Renderer(columns - 1).rows``) and printed into a fresh emulator of
the same size. "Same picture" means: scrollback + screen equal to it cell by
cell (characters, colours, bold/italic/underline), at any speed.

**After a resize** from W1 to W2 columns, rows printed before the resize stay
as they were (a terminal does not re-render them; pyte, like xterm, clips them
on a shrink). "Same picture" then means: the picture is the reference at W1 up
to some row k (clipped to W2), followed by the reference at W2 from some row
j, and the content of those two parts together is exactly the answer's
content (no character lost or repeated; see ``content``). Everything after the
resize is wrapped at the new width, and no row of the old live region is left
behind.
"""

from __future__ import annotations

import functools
import io
import random
import re
import signal
import sys
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from rich.console import Console
from rich.live import Live
from rich.markdown import Markdown

from kagura_magic.views.terminal import LiveMarkdownView, MagicTerminalView, Renderer, plain, write_all
from kagura_magic.views.terminal._live import FRAME_INTERVAL, SCREEN_MARGIN
from tests.pty_harness import Cell, Picture, PtyRun, Terminal, kagura_argv, replay, run_on_pty


# -- realistic answers ---------------------------------------------------------------------
def _code_block(lines: int = 200) -> str:
    body = []
    for i in range(lines):
        if i % 25 == 0:
            body.append(f"def stage_{i}(frame, factor={i}):")
            body.append(
                f'    """Scale column {i}: a docstring long enough to wrap at eighty columns, surely."""'
            )
        else:
            body.append(f"    frame['c{i}'] = frame['c{i - 1}'] * factor + {i}")
    return "```python\n" + "\n".join(body) + "\n```"


PROSE = " ".join(
    f"Sentence {i} explains how a streamed answer reaches the terminal without a line lost or repeated."
    for i in range(14)
)
TABLE = (
    "| Region | January | February | March | Status |\n| :----- | ------: | -------: | ----: | :----: |\n"
    + (
        "\n".join(
            f"| Region {i} | {100 + i}.5 | {110 + i}.0 | {120 + i}.8 | {'final' if i % 2 else 'draft'} |"
            for i in range(8)
        )
    )
)
NESTED = "\n".join(
    f"{i}. Step {i} uses **bold** words and `inline code`\n"
    f"   - detail {i}a, long enough to wrap around an eighty-column terminal at least once, really\n"
    f"   - detail {i}b"
    for i in range(1, 13)
)
CJK = "\n\n".join(
    [
        "## 日本語と中文のセクション 🎉",
        "これは日本語の段落です。ストリーミング中に文字が失われたり重複したりしないことを確認します。" * 3,
        "- 項目一：東京 🗼\n- 项目二：北京和上海的天气很好 😀\n- 항목 셋: 서울의 날씨",
        "> 引用：混合 text with English and 中文字符, plus emoji ✅ and 🚀 in one quote line that wraps.",
    ]
)
ANSWER = (
    "\n\n".join(
        [
            "# Streaming report",
            PROSE,
            "## A long code block",
            _code_block(),
            "## Figures",
            TABLE,
            "## Steps",
            NESTED,
            CJK,
            "That is all, *thanks* for reading.",
        ]
    )
    + "\n"
)
_SMALL = "\n\n".join([PROSE, _code_block(40), NESTED, CJK]) + "\n"
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
    view.settle()
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


# One colour system in this process: rich caches a style's escape codes on the style object,
# whatever the colour system, and pygments theme styles are shared between consoles.
SYSTEM = "256"


def reference_rows(text: str, columns: int, color: bool = True, system: str = SYSTEM) -> list[str]:
    return Renderer(columns - 1, color=color, color_system=system).rows(text)


def reference(text: str, size: tuple[int, int], color: bool = True, system: str = SYSTEM) -> Picture:
    """The finished answer printed at once (``system``: the colours the terminal claims)."""
    return replay("\n".join(reference_rows(text, size[0], color, system)) + "\n", *size)


_DECORATION = re.compile(r"[\s▌•─━│┃]")


def content(lines: list[str]) -> str:
    """What the rows say, independent of width: no spaces, rules, quote bars or bullets.

    Wrapping at another width moves line breaks and repeats a quote's bar on
    each row; the characters of the answer, in order, stay the same.
    """
    return _DECORATION.sub("", "".join(lines))


def assert_same_after_resize(
    picture: list[str], text: str, before: int, after: int, live_rows: int = 24
) -> None:
    """The picture is the reference at ``before`` columns, then at ``after``: nothing lost or doubled.

    The block that was open when the size changed may have had some rows printed
    at the old width already (the long-block rule), so at most ``live_rows``
    rows -- no more than the live region could hold -- between the two references
    may mix the widths; the content check still proves no word is lost or doubled.
    """
    ref1 = [plain(row).rstrip() for row in reference_rows(text, before)]
    ref2 = [plain(row).rstrip() for row in reference_rows(text, after)]
    clipped = [_clip_cells(row, after) for row in ref1]  # a shrink clips what was printed before
    whole = content(ref1)
    for k in range(min(len(picture), len(ref1)), -1, -1):
        if picture[:k] != clipped[:k]:
            continue
        for mixed in range(min(live_rows, len(picture) - k) + 1):
            rest = picture[k + mixed :]
            if rest == ref2[len(ref2) - len(rest) :] and content(ref1[:k] + picture[k:]) == whole:
                return
    raise AssertionError("picture is not the old-width reference followed by the new-width reference")


def _clip_cells(row: str, columns: int) -> str:
    """``row`` as a terminal of ``columns`` cells shows it after clipping (wide glyphs count two)."""
    from rich.cells import cell_len

    out, used = [], 0
    for char in row:
        used += cell_len(char)
        if used > columns:
            break
        out.append(char)
    return "".join(out).rstrip()


# -- the renderer ----------------------------------------------------------------------------
def test_rendering_is_compositional_over_blocks() -> None:
    renderer = Renderer(79, color_system=SYSTEM)
    blocks = ["# Title", PROSE, _code_block(30), TABLE, NESTED, CJK]
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
    full = renderer.rows(_code_block(60))
    head = renderer.rows(_code_block(60).rsplit("\n", 30)[0] + "\n```\n")
    assert full[: len(head)] == head and len(head) < len(full)


def test_ordered_list_numerals_do_not_shift_when_the_tenth_item_comes() -> None:
    renderer = Renderer(79, color_system=SYSTEM)
    nine = renderer.rows("\n".join(f"{i}. item {i}" for i in range(1, 10)))
    twelve = renderer.rows("\n".join(f"{i}. item {i}" for i in range(1, 13)))
    assert twelve[:9] == nine


# -- the live view, in process ---------------------------------------------------------------
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("tokens_per_second", [600, 0], ids=["600tps", "fullspeed"])
def test_same_picture_as_printing_at_once(size: tuple[int, int], tokens_per_second: int) -> None:
    result = streamed_answer(size, tokens_per_second)
    expected = reference(ANSWER, size)
    assert result.picture.lines == expected.lines  # text first: a readable failure
    assert result.picture.rows == expected.rows  # then every cell's colours and attributes
    assert max(result.region_heights) <= size[1] - SCREEN_MARGIN  # the live region fits the screen


@pytest.mark.parametrize("piece", [1, 7, 64])
def test_same_picture_whatever_the_piece_size(piece: int) -> None:
    text = "\n\n".join([PROSE, _code_block(40), NESTED, CJK]) + "\n"
    assert stream(text, (80, 24), 600, piece=piece).picture.rows == reference(text, (80, 24)).rows


MIX = (
    "\n\n".join(
        [
            NESTED,
            _code_block(30),
            "> quote\n> - a\n> - b",
            TABLE,
            CJK,
            "1. a\n\n   ```py\n   x = 1\n   ```\n2. b",
        ]
    )
    + "\n"
)


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
    view.settle()
    assert terminal.picture().rows == reference(MIX, size).rows


def test_long_code_block_and_list_are_frozen_at_sound_cuts_only() -> None:
    """A 200-line fence and a 12-item list never need the unsound fallback at 80×24."""
    text = _code_block() + "\n\n" + NESTED + "\n"
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
    view.settle()
    return terminal.picture()


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


def test_a_table_taller_than_the_screen_fits_the_region_and_is_printed_whole() -> None:
    """No sound cut in a table: its last rows are live, then the finished table is printed once."""
    text = "Intro paragraph.\n\n" + _tall_table() + "\nAfter the table.\n"
    result = stream(text, (80, 24), 600)
    assert max(result.region_heights) <= 24 - SCREEN_MARGIN
    assert result.picture.rows == reference(text, (80, 24)).rows


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
    view.settle(None, note="interrupted")
    lines = terminal.picture().lines
    assert [line for line in lines if "r0 " in line] and [line for line in lines if "r29 " in line]
    assert content(lines) == content([plain(row) for row in reference_rows(text[:cut], 80)])


def test_bytes_are_few_and_frames_at_most_twenty_a_second() -> None:
    result = streamed_answer((80, 24), 600)
    final = len(("\n".join(reference_rows(ANSWER, 80)) + "\n").encode())
    assert result.bytes <= 8 * final, (result.bytes, final)
    assert result.frames <= result.duration / FRAME_INTERVAL + 2
    gaps = [b - a for a, b in zip(result.frame_times, result.frame_times[1:], strict=False)]
    assert min(gaps[:-1]) >= FRAME_INTERVAL - 1e-9  # the last one is settle's, at once


def test_ten_times_fewer_bytes_than_naive_rich_live() -> None:
    """The naive way: ``rich.Live(Markdown(all text so far))``, redrawn on the same frames."""
    result = stream(_SMALL, (80, 24), 600)
    buffer = io.StringIO()
    console = Console(file=buffer, width=80, height=24, force_terminal=True, color_system=SYSTEM)
    # "visible" is the only overflow mode that shows the whole answer (crop/ellipsis cut it).
    with Live(console=console, auto_refresh=False, vertical_overflow="visible") as live:
        for moment in result.frame_times:
            live.update(Markdown(_SMALL[: int(moment * 600) * 4]), refresh=True)
    naive = len(buffer.getvalue().encode())
    assert naive >= 10 * result.bytes, (naive, result.bytes)


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
    view.settle(None, note="interrupted")
    lines = terminal.picture().lines
    assert lines[-1] == "Some bold text that never clo" and "**" not in "".join(lines)
    assert terminal.picture().cursor == (0, len(lines))  # ready for the caller's message below


def test_no_color_keeps_layout_without_colour() -> None:
    out = io.StringIO()
    view = LiveMarkdownView("m", out=out, size=lambda: (80, 24), clock=Clock(), color=False, spinner=False)
    view.feed(ANSWER)
    view.settle()
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


class _ShortWrites(io.RawIOBase):
    """A raw file that takes at most a few bytes per call, as a terminal does when a signal lands."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.calls = 0

    def writable(self) -> bool:
        return True

    def write(self, chunk: bytes) -> int | None:  # type: ignore[override]
        self.calls += 1
        if self.calls % 5 == 0:
            return None  # "would block": try again
        taken = bytes(chunk[:7])
        self.data += taken
        return len(taken)


def test_write_all_keeps_every_byte_of_short_writes() -> None:
    """``sys.stdout`` under ``PYTHONUNBUFFERED``: a text layer straight on the raw file."""
    raw = _ShortWrites()
    stream = io.TextIOWrapper(raw, encoding="utf-8", write_through=True)  # type: ignore[arg-type]
    frame = "\x1b[?2026h\r\x1b[3A\x1b[J" + "".join(f"row {i} — 表 😀\n" for i in range(40)) + "\x1b[?2026l"
    write_all(stream, frame)
    assert raw.data.decode() == frame and raw.calls > len(frame.encode()) // 7


class _CtrlCMidWrite(_ShortWrites):
    """Short writes, and Ctrl-C arrives during the third one."""

    def write(self, chunk: bytes) -> int | None:  # type: ignore[override]
        if self.calls == 2:
            signal.raise_signal(signal.SIGINT)
        return super().write(chunk)


@pytest.mark.usefixtures("sigint_raises")
def test_ctrl_c_mid_frame_comes_after_the_whole_frame() -> None:
    """A frame cut by Ctrl-C would leave the cursor rows away from where the view thinks it is."""
    raw = _CtrlCMidWrite()
    stream = io.TextIOWrapper(raw, encoding="utf-8", write_through=True)  # type: ignore[arg-type]
    frame = "".join(f"row {i}\n" for i in range(30))
    with pytest.raises(KeyboardInterrupt):
        write_all(stream, frame)
    assert raw.data.decode() == frame
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_no_byte_lost_when_the_writer_is_stopped_mid_write() -> None:
    """A stop and continue mid-write (what a resize or Ctrl-Z then ``fg`` can do) loses nothing.

    The child writes faster than the terminal drains, so it is blocked inside a
    write when it is stopped; the kernel then returns a short count. With
    ``sys.stdout.write`` under ``PYTHONUNBUFFERED`` the rest of that frame is lost.
    """
    code = (
        "import sys, time\n"
        "from kagura_magic.views.terminal import write_all\n"
        "for f in range(300):\n"
        "    write_all(sys.stdout, ''.join(f'{f:04d}-{j:02d}:' + 'x' * 60 + '\\n' for j in range(30)))\n"
        "    time.sleep(0.002)\n"
    )
    run = run_on_pty([sys.executable, "-c", code], 80, 24, env={"PYTHONUNBUFFERED": "1"},
                     resize_after=30_000, resize_to=(100, 30))  # fmt: skip
    expected = "".join(f"{f:04d}-{j:02d}:" + "x" * 60 + "\n" for f in range(300) for j in range(30))
    assert run.returncode == 0
    assert run.output.decode().replace("\r\n", "\n") == expected


def test_magic_view_writes_raw_text_when_piped() -> None:
    out, err = io.StringIO(), io.StringIO()
    view = MagicTerminalView("demo/echo", out=out, err=err)
    view.start()
    for piece in ("# Ti", "tle\n\n**bo", "ld**"):
        view.feed(piece)
    view.settle(None)
    assert out.getvalue() == "# Title\n\n**bold**\n" and view.text == "# Title\n\n**bold**"


# -- on a pseudo-terminal ----------------------------------------------------------------------
def _echo(*extra: str, tps: int = 600) -> list[str]:
    return kagura_argv("-m", "demo/echo", "--param", f"tokens_per_second={tps}", *extra)


_IPYTHON_CODE = (
    "get_ipython().run_line_magic('load_ext', 'kagura_magic'); "
    "get_ipython().run_cell_magic('agent', '-m demo/echo --param tokens_per_second=600', {text!r})"
)


def _spec(argv: list[str], size: tuple[int, int], stdin: str, **options: object) -> dict:
    return {"argv": argv, "columns": size[0], "lines": size[1], "stdin": stdin, **options}


_RUNS: dict[str, dict] = {
    "80x24-600": _spec(_echo(), (80, 24), ANSWER),
    "100x30-0-nocolor": _spec(_echo(tps=0), (100, 30), ANSWER, env={"NO_COLOR": "1"}),
    # Unbuffered, as in many containers: a resize mid-write must not lose the end of a frame.
    "grow": _spec(
        _echo(), (80, 24), _SMALL, resize_after=8_000, resize_to=(100, 30), env={"PYTHONUNBUFFERED": "1"}
    ),
    "ctrl-c": _spec(_echo(), (80, 24), _SMALL, interrupt_after=8_000),
    "plain-fail": _spec(
        _echo("--plain", "--param", "fail_after=300", tps=0), (80, 24), "# Raw\n\n**bold** | pipe\n\n" + PROSE
    ),
    "ipython": _spec(
        [
            sys.executable,
            "-m",
            "IPython",
            "--no-banner",
            "--colors=NoColor",
            "-c",
            _IPYTHON_CODE.format(text=_SMALL),
        ],
        (80, 24),
        "",
    ),
}


@pytest.fixture(scope="module")
def pty_runs() -> Iterator[dict[str, PtyRun | BaseException]]:
    """All pty runs at once (each mostly waits on the stream or on importing litellm)."""

    def one(spec: dict) -> PtyRun | BaseException:
        spec = dict(spec)
        try:
            return run_on_pty(spec.pop("argv"), **spec, timeout=90)
        except BaseException as error:  # reported by the test that needs this run
            return error

    with ThreadPoolExecutor(max_workers=3) as pool:
        results = dict(zip(_RUNS, pool.map(one, _RUNS.values()), strict=True))
    yield results


def _run(pty_runs: dict, name: str) -> PtyRun:
    run = pty_runs[name]
    if isinstance(run, BaseException):
        raise run
    Path(tempfile.gettempdir(), f"kagura-pty-{name}.bin").write_bytes(run.output)  # to replay a failure
    return run


def _first_difference(rows: list[list[Cell]], expected: list[list[Cell]]) -> tuple | None:
    """Where two pictures first differ, cell by cell: (row, column, got, expected)."""
    for y, (row, want) in enumerate(zip(rows, expected, strict=False)):
        for x in range(max(len(row), len(want))):
            got = row[x] if x < len(row) else None
            cell = want[x] if x < len(want) else None
            if got != cell:
                return (y, x, got, cell)
    return None


def _status_and_answer(picture: Picture) -> tuple[list[str], str]:
    lines = picture.lines
    return lines[:-1], lines[-1]


def test_cli_on_a_terminal_shows_the_reference_picture(pty_runs: dict) -> None:
    run = _run(pty_runs, "80x24-600")
    assert run.returncode == 0, run.output[-500:]
    answer, status = _status_and_answer(run.picture)
    expected = reference(ANSWER, (80, 24), system="256")
    assert answer == expected.lines
    assert _first_difference(run.picture.rows, expected.rows) is None  # colours too
    assert status.startswith("demo/echo · first token") and "tok/s" in status and "tokens" in status
    assert b"Thinking" in run.output and "Thinking" not in "\n".join(run.picture.lines)  # spinner gone
    assert b"\x1b[2m" + status.encode() in run.output  # the status line is dim
    final = len(("\n".join(reference_rows(ANSWER, 80, system="256")) + "\n").encode())
    assert len(run.output) <= 8 * final


def test_cli_at_full_speed_without_colour(pty_runs: dict) -> None:
    run = _run(pty_runs, "100x30-0-nocolor")
    assert run.returncode == 0, run.output[-500:]
    answer, status = _status_and_answer(run.picture)
    assert answer == reference(ANSWER, (100, 30), color=False).lines
    assert "tok/s" in status
    assert not re.search(rb"\x1b\[[0-9;]*(3[0-9]|4[0-9]|9[0-7])m", run.output)


def test_cli_resized_mid_stream(pty_runs: dict) -> None:
    run = _run(pty_runs, "grow")
    assert run.returncode == 0
    answer, status = _status_and_answer(run.picture)
    assert "tok/s" in status
    assert_same_after_resize(answer, _SMALL, 80, 100)
    assert max(len(line) for line in answer) > 80  # the resize happened mid-stream


def test_cli_ctrl_c_keeps_the_partial_answer(pty_runs: dict) -> None:
    run = _run(pty_runs, "ctrl-c")
    lines = run.picture.lines
    assert run.returncode == 130
    assert b"Traceback" not in run.output
    message = [i for i, line in enumerate(lines) if "interrupted" in line]
    assert len(message) == 1 and "demo/echo" in lines[message[0]] and "tokens" in lines[message[0]]
    shown = [line for line in lines[: message[0]] if line and line != "^C"]
    full = [row for row in (plain(row).rstrip() for row in reference_rows(_SMALL, 80)) if row]
    assert 5 < len(shown) < len(full)
    assert shown[:-3] == full[: len(shown) - 3]  # what was shown stays (the last rows: healed tail)


def test_cli_plain_forces_raw_markdown_and_errors_keep_the_partial(pty_runs: dict) -> None:
    run = _run(pty_runs, "plain-fail")
    lines = [line for line in run.picture.lines if line]
    assert run.returncode == 1 and b"Traceback" not in run.output
    assert lines[:2] == ["# Raw", "**bold** | pipe"]
    mark = next(i for i, line in enumerate(lines) if line.startswith("✖"))
    assert "onnection" in lines[mark] and len(lines) - mark <= 3  # two lines (the first wraps at 80)
    assert "".join(lines[2:mark]) == PROSE[: len("".join(lines[2:mark]))]  # the partial answer, raw
    assert len("".join(lines[2:mark])) > 200


def test_terminal_ipython_uses_the_live_view(pty_runs: dict) -> None:
    run = _run(pty_runs, "ipython")
    assert run.returncode == 0, run.output[-800:]
    lines = run.picture.lines
    expected = [plain(row).rstrip() for row in reference_rows(_SMALL, 80)]
    start = lines.index(expected[0])
    assert lines[start : start + len(expected)] == expected
    assert "tok/s" in lines[start + len(expected)]
    assert b"Traceback" not in run.output
