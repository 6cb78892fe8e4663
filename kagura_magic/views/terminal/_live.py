"""Live Markdown on a terminal: finished rows printed once, a small region redrawn below them.

The picture is one list of rows (``_render``): the committed blocks, then the
open tail. Rows above the *live region* are in the scrollback for good; the
live region is the last few rows, the only ones we ever rewrite. Redrawing is
ours, not ``rich.Live``'s: we remember the rows we drew, move the cursor up to
the first row that differs, clear to the end of the screen and write the rest.
A growing paragraph therefore costs one row per frame, not the whole tail.

The region must never be taller than the screen: the cursor cannot move up
into the scrollback, so rows drawn above the top would stay behind as
duplicates. When the open tail renders taller than ``limit`` rows, its top
rows are printed for good ("frozen"). Which rows are safe to freeze?

* A *sound cut* is a source line in the open block above which the rendering
  can no longer change: in a fenced code block, every complete code line (our
  code blocks have no bottom padding, and a code line wraps on its own); in a
  list, every item before the last (our numerals do not depend on the item
  count). We render the source up to the cut as a block of its own, check
  that its rows are the first rows of the tail, and print them. The frozen
  part is remembered as *source*, so after a resize we know how many rows it
  takes at the new width, and the rest of the block is drawn at that width.
* Anything else (a table taller than the screen, one huge paragraph) has no
  sound cut: a table's column widths depend on rows still to come. The region
  then shows only the block's last rows, and the whole block is printed once
  it is finished (or, if the answer stops inside it, as it stands then). The
  top of such a block is out of sight for a while, never wrong or doubled.

A frame happens at most every ``FRAME_INTERVAL`` seconds (``due_in`` tells the
pump when), except the first, which is drawn as soon as the first token comes.

Before the answer, a reasoning model's thinking is drawn in the same region
(``_thinking``): dim rows under a clock line, folded into "Thought for 12 s"
(or, ``keep``, printed for good) when the answer or a tool call begins. Tool
calls are printed as cards once the answer has ended: their arguments are
pretty-printed only when complete.
"""

from __future__ import annotations

import math
import os
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from kagura_magic.llm import ToolCallEvent
from kagura_magic.markdown import MarkdownStream
from kagura_magic.views._calls import calls_markdown
from kagura_magic.views._protocol import Outcome, thought_label

from ._output import write_all
from ._plain import _FRAMES, Spinner, calling_label, status_line, waiting_label, wants_color
from ._render import PARSER, ColorSystemName, Renderer, line_offsets, plain
from ._thinking import ThinkingMode, ThinkingRows

__all__ = ["FRAME_INTERVAL", "LiveMarkdownView", "LiveRegion"]

FRAME_INTERVAL = 0.05
"""Seconds between redraws: 20 a second is smooth to read and cheap to write."""

THINKING_ROWS = 6
"""Rows of thinking the ``live`` mode shows under its clock: the latest, enough to follow."""

SPIN_INTERVAL = 0.1
"""Seconds between the thinking clock's spinner frames when no thinking text arrives."""

SCREEN_MARGIN = 4
"""Rows of the screen the live region leaves free (the cursor's row, the status line, slack)."""

_BEGIN_SYNC, _END_SYNC = "\x1b[?2026h", "\x1b[?2026l"  # synchronized output; ignored where unknown


def _common_prefix(a: Sequence[str], b: Sequence[str]) -> int:
    count = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        count += 1
    return count


class LiveRegion:
    """The rows below the last permanent row, and the bytes to rewrite them."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.rows: list[str] = []
        self.bytes_written = 0

    def update(self, printed: Sequence[str], live: Sequence[str], redraw: bool = False) -> None:
        """Make the screen show ``printed`` (for good) and then ``live`` (to be redrawn later).

        Rows the terminal already shows are kept: the cursor goes up only to
        the first row that changed (``redraw`` forces the whole region, after
        a resize). The cursor always rests at the start of the row below.
        """
        new = [*printed, *live]
        start = 0 if redraw else _common_prefix(self.rows, new)
        up = len(self.rows) - start
        parts = []
        if up > 0:
            parts.append(f"{_BEGIN_SYNC}\r\x1b[{up}A\x1b[J")
        parts.extend(row + "\n" for row in new[start:])
        if up > 0:
            parts.append(_END_SYNC)
        self.rows = list(live)
        self._write("".join(parts))

    def release(self) -> None:
        """Leave the live rows on screen for good (an interrupted or failed answer keeps them)."""
        self.rows = []

    def _write(self, data: str) -> None:
        if not data:
            return
        write_all(self.out, data)
        self.bytes_written += len(data.encode("utf-8", "replace"))


@dataclass(frozen=True)
class _Cut:
    """A prefix of a tail whose rows are final: ``source``, rendered with ``closer`` appended.

    ``reopen`` is the opening line of the fenced code block the cut is in ("" for
    a list): with it, the rest of the block can be rendered on its own.
    """

    source: str
    closer: str = ""
    reopen: str = ""


@dataclass
class _Frozen:
    """Rows at the top of the open tail already printed for good.

    Once ``started`` (some row printed), the printed rows are the tail's
    blank separator row (when blocks were printed above it), the rows of
    ``cut`` (a sound cut, final), then ``extra`` rows: when blocks before the
    cut finish, the rest of the cut is carried over, and ``extra`` counts any
    printed rows its own rendering does not account for.
    """

    cut: _Cut = _Cut("")
    extra: int = 0
    started: bool = False


def _sound_cut(tail: str) -> _Cut | None:
    """The longest prefix of ``tail`` whose rendering is final, or ``None``.

    Only the last top-level block is cut: a fenced code block before its last
    code line, a list before its last item.
    """
    tokens = PARSER.parse(tail)
    tops = [t for t in tokens if t.level == 0 and t.nesting >= 0 and t.map]
    if not tops:
        return None
    last = max(tops, key=lambda t: t.map[0] if t.map else -1)
    assert last.map is not None
    offsets = line_offsets(tail)
    if last.type == "fence":
        lines = tail.split("\n")
        first_code, end = last.map[0] + 1, min(last.map[1], len(lines))
        last_code = end - 1
        if last_code > first_code and lines[last_code].strip().startswith(last.markup):
            last_code -= 1  # the (healed) closing fence line
        while last_code > first_code and not lines[last_code - 1].strip():
            last_code -= 1  # a code block's rows end at its last non-blank line, for now
        if last_code <= first_code:
            return None
        return _Cut(tail[: offsets[last_code]], last.markup + "\n", lines[last.map[0]] + "\n")
    if last.type in ("bullet_list_open", "ordered_list_open"):
        items = [t.map[0] for t in tokens if t.type == "list_item_open" and t.level == 1 and t.map]
        if len(items) < 2:
            return None
        return _Cut(tail[: offsets[items[-1]]])
    return None


def _normalise(text: str) -> str:
    """Line endings as ``MarkdownStream`` sees them, so offsets into its source line up."""
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\0", "\ufffd")


def _terminal_size(out: TextIO) -> tuple[int, int]:
    try:
        size = os.get_terminal_size(out.fileno())
    except (AttributeError, ValueError, OSError):  # io.UnsupportedOperation is both of the last two
        size = shutil.get_terminal_size()
    return size.columns, size.lines


class LiveMarkdownView:
    """The answer as live Markdown on a terminal; the pump drives it (see ``kagura_magic.views.pump``).

    ``size`` returns ``(columns, rows)``; it is read on every frame, so a
    resize (SIGWINCH) takes effect at the next frame without a signal handler
    (which would run between any two bytecodes of a frame being written).
    ``clock`` is injectable so benchmarks can replay a stream at a given pace.
    """

    def __init__(
        self,
        label: str = "",
        out: TextIO | None = None,
        err: TextIO | None = None,
        *,
        size: Callable[[], tuple[int, int]] | None = None,
        clock: Callable[[], float] = time.monotonic,
        color: bool | None = None,
        color_system: ColorSystemName | None = "auto",
        spinner: bool = True,
        quiet: bool = False,
        thinking: ThinkingMode = "live",
    ) -> None:
        self.label = label
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.markdown = MarkdownStream()
        self.region = LiveRegion(self.out)
        self._size = size or (lambda: _terminal_size(self.out))
        self._clock = clock
        self._color = wants_color(self.out) if color is None else color
        self._color_system = color_system
        self._quiet = quiet  # no status line after the answer (the CLI's -q)
        self._spinner = Spinner(waiting_label(label), self.err) if spinner else None
        self._thinking_mode = thinking
        self._thoughts: ThinkingRows | None = None  # made when the model starts thinking
        self._thinking_since: float | None = None
        self._thought_for: float | None = None
        self._thought_printed = 0  # characters of finished thinking printed for good (keep)
        self.calls: dict[int, ToolCallEvent] = {}
        self._renderer: Renderer | None = None
        self._limit = 20
        self._printed = 0  # characters of committed source already printed
        self._has_rows = False  # committed rows printed: the tail starts after a blank row
        self._frozen = _Frozen()
        self._head_cache: tuple[tuple[int, _Cut], int] = ((0, _Cut("")), 0)
        self._dirty = False
        self._last_frame = -math.inf
        self.pieces = 0
        self.frames = 0

    # -- the pump's interface ----------------------------------------------------------

    @property
    def text(self) -> str:
        return self.markdown.text

    def start(self) -> None:
        if self._spinner is not None:
            self._spinner.start()

    def think(self, piece: str, stats: Any = None) -> None:
        """Thinking before the answer: dim rows under a clock, or only the clock (``hide``)."""
        if not piece or self.pieces or self._thought_for is not None:
            return  # reasoning after the answer (or a call) began is kept by the stream, not shown
        if self._thinking_since is None:
            self._thinking_since = self._clock()
            self._thoughts = ThinkingRows(self._color)
            if self._spinner is not None:
                if self._thinking_mode == "hide":
                    self._spinner.retitle("Thinking…", time.monotonic())
                else:  # the region draws its own clock from now on
                    self._spinner.stop()
        assert self._thoughts is not None
        self._thoughts.feed(piece)
        self._dirty = self._dirty or self._thinking_mode != "hide"

    def feed(self, piece: str, stats: Any = None) -> None:
        if not piece:
            return
        self._stop_spinner()
        self.stop_thinking()
        self.markdown.feed(piece)
        self.pieces += 1
        self._dirty = True

    def call(self, call: ToolCallEvent, stats: Any = None) -> None:
        """A tool call as it grows: the spinner names it; its card is printed when the answer ends."""
        first = not self.calls
        self.calls[call.index] = call
        self.stop_thinking()
        if self.pieces or self._spinner is None:
            return
        if first and self._thinking_since is not None and self._thinking_mode != "hide":
            self._spinner = Spinner(calling_label(call), self.err).start()  # the region's clock is gone
        else:
            self._spinner.retitle(calling_label(call))

    def offer_stop(self, stop: Callable[[], None]) -> None:
        """Nothing to click on a terminal: Ctrl-C is the stop."""

    def due_in(self) -> float | None:
        """Seconds until the next frame is due; ``None`` when nothing waits to be shown."""
        if self._thinking_shown():
            interval = FRAME_INTERVAL if self._dirty else SPIN_INTERVAL
            return max(0.0, self._last_frame + interval - self._clock())
        if not self._dirty:
            return None
        return max(0.0, self._last_frame + FRAME_INTERVAL - self._clock())

    def flush(self, stats: Any = None) -> None:
        if self._thinking_shown():
            self._thinking_frame()
        elif self._dirty:
            self._frame(final=False)

    def settle(self, outcome: Outcome) -> None:
        """End the answer. Complete: the final rendering of the tail, the tool calls, the status line.

        Otherwise the rows on screen stay as they are (thinking that no
        answer followed is printed in full: it is all that arrived); the
        caller says what happened, in its own words, once.
        """
        self._stop_spinner()
        if self._thought_for is None and self._thinking_since is not None:
            self.stop_thinking(whole=not outcome.ok)
        if outcome.ok and self.text:
            self._frame(final=True)
        elif self.text:
            self._frame(final=False, whole=True)  # all of the open block, not only its last rows
            self.region.release()
        if outcome.tool_calls:
            self._print_calls(outcome.tool_calls)
        if outcome.ok and (self.text or outcome.tool_calls) and outcome.stats is not None and not self._quiet:
            line = status_line(outcome.stats.summary(), wants_color(self.err) and self._color)
            write_all(self.err, line + "\n")

    # -- thinking and tool calls -------------------------------------------------------

    def _stop_spinner(self) -> None:
        if self._spinner is not None:
            self._spinner.stop()

    def _thinking_shown(self) -> bool:
        """Thinking rows are on screen under a clock (and no answer or call has begun)."""
        return self._thoughts is not None and self._thought_for is None and self._thinking_mode != "hide"

    def _thinking_frame(self) -> None:
        """The thinking's live rows (all new finished ones printed for good, ``keep``), then the clock."""
        assert self._thoughts is not None and self._thinking_since is not None
        self._dirty = False
        self._last_frame = self._clock()
        self.frames += 1
        renderer, resized = self._renderer_for_size()
        width, thoughts = renderer.width, self._thoughts
        seconds = self._clock() - self._thinking_since
        clock = status_line(f"{_FRAMES[self.frames % len(_FRAMES)]} Thinking… {seconds:.0f} s", self._color)
        room = self._limit - 1
        if self._thinking_mode == "keep":
            printed = self._new_finished_thinking(width)
            live = thoughts.open_rows(width)[-room:]
        else:
            printed = []
            rows = [*thoughts.finished_rows(width), *thoughts.open_rows(width)]
            live = rows[-min(THINKING_ROWS, room) :]
        self.region.update(printed, [*live, clock], redraw=resized)

    def _new_finished_thinking(self, width: int) -> list[str]:
        assert self._thoughts is not None
        finished = self._thoughts.finished_source
        new = finished[self._thought_printed :]
        rows = self._thoughts.rows(new, width, after_rows=self._thought_printed > 0)
        self._thought_printed = len(finished)
        return rows

    def stop_thinking(self, whole: bool = False) -> None:
        """The model stopped thinking: fold the rows into "Thought for N s", or print them all.

        ``whole``: no answer followed (an error, a stop), so every row of
        thinking is printed for good, whatever the mode: it is what arrived.
        """
        if self._thoughts is None or self._thinking_since is None or self._thought_for is not None:
            return
        self._thought_for = self._clock() - self._thinking_since
        if self._thinking_mode == "hide" and not whole:
            return
        renderer, resized = self._renderer_for_size()
        width, rows = renderer.width, []
        if self._thinking_mode == "keep" or whole:  # (only ``keep`` printed some of it already)
            rows = [*self._new_finished_thinking(width), *self._thoughts.open_rows(width)]
        if not whole:
            rows.append(status_line(thought_label(self._thought_for), self._color))
        self.region.update(rows, [], redraw=resized)
        self._has_rows = self._has_rows or bool(rows)

    def _print_calls(self, calls: Sequence[ToolCallEvent]) -> None:
        """The tool calls as cards below the answer, printed once, for good."""
        renderer, resized = self._renderer_for_size()
        rows = renderer.rows(calls_markdown(calls))
        self.region.update(([""] if self._has_rows else []) + rows, [], redraw=resized)
        self._has_rows = True

    # -- frames ------------------------------------------------------------------------

    def _frame(self, final: bool, whole: bool = False) -> None:
        self._dirty = False
        self._last_frame = self._clock()
        self.frames += 1
        renderer, resized = self._renderer_for_size()
        committed = self.markdown.committed_source
        printed = self._commit(committed[self._printed :], renderer)
        if final:
            printed += self._commit(_normalise(self.text)[len(committed) :], renderer)
            self.region.update(printed, [], redraw=resized)
            return
        frozen, live = self._tail(renderer, whole)
        self.region.update(printed + frozen, live, redraw=resized)

    def _renderer_for_size(self) -> tuple[Renderer, bool]:
        """The renderer for the terminal's current width; ``True`` when it changed (a resize)."""
        columns, rows = self._size()
        self._limit = max(3, rows - SCREEN_MARGIN)
        width = max(columns - 1, 10)
        if self._renderer is not None and self._renderer.width == width:
            return self._renderer, False
        resized = self._renderer is not None
        self._renderer = Renderer(width, color=self._color, color_system=self._color_system)
        return self._renderer, resized

    def _skip(self, renderer: Renderer) -> int:
        """How many rows of the tail's view (its blank separator row, then its rows) are printed."""
        frozen = self._frozen
        return self._base(renderer, frozen.cut) + frozen.extra if frozen.started else 0

    def _base(self, renderer: Renderer, cut: _Cut) -> int:
        """Rows of the tail's view down to the end of ``cut`` (one render per cut and width)."""
        key = (renderer.width, cut)
        if self._head_cache[0] != key:
            head = renderer.rows(cut.source + cut.closer) if cut.source else []
            self._head_cache = (key, len(head))
        return (1 if self._has_rows else 0) + self._head_cache[1]

    def _commit(self, source: str, renderer: Renderer) -> list[str]:
        """Rows of newly finished blocks that are not on screen for good yet."""
        if not source:
            return []
        rows = renderer.rows(source)
        view = [""] if self._has_rows and rows else []
        view += rows
        skip = self._skip(renderer)
        self._printed += len(source)
        carried = skip - len(view)
        self._has_rows = self._has_rows or bool(rows)
        cut = self._frozen.cut
        if carried <= 0:
            self._frozen = _Frozen()
            return view[skip:]
        # Frozen rows reach past these blocks (the tail held several): carry the rest over.
        rest = cut.source[len(source) :]
        frozen = _Frozen(_Cut(rest, cut.closer, cut.reopen) if rest else _Cut(""), started=True)
        frozen.extra = max(0, carried - self._base(renderer, frozen.cut))
        self._frozen = frozen
        return []

    def _tail(self, renderer: Renderer, whole: bool = False) -> tuple[list[str], list[str]]:
        """Rows of the open tail to print for good now, and the rows to keep live.

        Inside a long code block only the code after the frozen rows is
        rendered (the *window*), so a frame costs the live rows, not the block.
        ``whole`` keeps every row of the tail (the answer stops here).
        """
        tail = self.markdown.healed_tail()
        cut = self._frozen.cut
        if cut.reopen and tail.startswith(cut.source):
            source, start = cut.reopen + tail[len(cut.source) :], self._base(renderer, cut)
            window = renderer.rows(source)
        else:
            source, start = tail, 0
            rows = renderer.rows(tail)
            window = [""] if self._has_rows and rows else []
            window += rows
        skip = self._skip(renderer) - start
        if whole or len(window) - skip <= self._limit:
            return [], window[skip:]
        newly = self._freeze_sound(source, window, start, skip, renderer)
        live = window[skip + len(newly) :]
        return newly, live[-self._limit :]  # no sound cut reaches far enough: show the last rows

    def _freeze_sound(
        self, source: str, window: list[str], start: int, skip: int, renderer: Renderer
    ) -> list[str]:
        """Freeze the window's rows above a sound cut in ``source``, if below what is printed.

        ``window`` is the rows of ``source``; it begins ``start`` rows into the
        tail's view. Returns the rows newly printed.
        """
        cut = _sound_cut(source)
        if cut is None:
            return []
        head = renderer.rows(cut.source + cut.closer)
        first = 1 if start == 0 and self._has_rows else 0  # the separator row
        end = first + len(head)
        if end <= skip or end >= len(window):
            return []
        if [plain(row) for row in window[first:end]] != [plain(row) for row in head]:
            return []  # the rendering disagrees with the cut's premise: do not trust it
        if cut.reopen and renderer.rows(cut.reopen + source[len(cut.source) :]) != window[end:]:
            return []  # the code after the cut is coloured differently on its own (inside a docstring)
        old = self._frozen.cut
        if start:  # the window is the rest of a code block: extend the old cut
            cut = _Cut(old.source + cut.source[len(old.reopen) :], cut.closer, old.reopen)
        self._frozen = _Frozen(cut, started=True)
        self._head_cache = ((renderer.width, cut), start + end - (1 if self._has_rows else 0))
        return window[skip:end]
