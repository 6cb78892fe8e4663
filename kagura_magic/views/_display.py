"""What both HTML views share: text in, frames on time, one display that settles in place.

The caller feeds text and asks ``due_in()`` how long it may wait for more
before calling ``flush()``; a view never starts threads or timers, so every
message is sent from the thread running the cell. The view lives in one
``display_id``; settling updates it in place with the static bundle, so the
saved notebook keeps only the finished answer.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from kagura_magic.llm import StreamStats, ToolCallEvent, litellm_ready
from kagura_magic.markdown import MarkdownStream, PlainTextStream
from kagura_magic.views._bundle import settled_bundle
from kagura_magic.views._calls import calls_html
from kagura_magic.views._protocol import LiveMode, Outcome, thought_label

MIN_FRAME_INTERVAL = 1 / 30
LOADING_POLL = 0.1  # seconds between looks at whether litellm's first import has finished
THINKING_TICK = 1.0  # seconds between updates of "Thinking… N s" when no thinking text is shown


class DisplayView:
    """The coalescing half of a live HTML view; subclasses draw ``start`` and ``flush``."""

    MIN_INTERVAL = MIN_FRAME_INTERVAL

    def __init__(
        self,
        label: str,
        mode: LiveMode = "markdown",
        *,
        remote_images: bool = False,
        show_thinking: bool = True,
    ) -> None:
        self.label = label
        self.remote_images = remote_images
        self.show_thinking = show_thinking
        self.thinking: MarkdownStream | None = None  # what the model thought, once it does
        self._thinking_since: float | None = None
        self._thought_for: float | None = None
        self.calls: dict[int, ToolCallEvent] = {}  # tool calls by index, as they grow
        self._cards: str | None = None  # their HTML, made again only when one grew
        self.stream: MarkdownStream | PlainTextStream = (
            PlainTextStream() if mode == "verbatim" else MarkdownStream(remote_images=remote_images)
        )
        self._handle: Any = None
        self._dirty = False
        self._first_shown = False
        self._last_frame = 0.0
        self._frame_interval = self.MIN_INTERVAL
        self._pieces_seen = 0
        # The spinner says litellm is loading: the first cell of a session, while the warm-up imports it.
        self._loading = not litellm_ready()
        self.bundle: dict[str, Any] | None = None  # what the answer settled into
        self._settled_metadata: dict[str, Any] = {}

    @property
    def text(self) -> str:
        return self.stream.text

    def start(self) -> None:  # pragma: no cover - each view shows its own first frame
        raise NotImplementedError

    def _waiting_label(self) -> str:
        """What the spinner says: the first cell of a session waits for litellm's import first,
        and a reasoning model says how long it has been thinking."""
        if self.calls:
            last = self.calls[max(self.calls)]
            return f"Writing a call to {last.name or 'a tool'}…"
        if self._thinking_since is not None:
            return f"Thinking… {time.monotonic() - self._thinking_since:.0f} s"
        return "Loading litellm…" if self._loading else f"Waiting for {self.label}…"

    def _thought_label(self) -> str:
        return thought_label(self._thought_for)

    def _calls_html(self) -> str:
        if self._cards is None:
            self._cards = calls_html([self.calls[index] for index in sorted(self.calls)])
        return self._cards

    def think(self, piece: str, stats: StreamStats | None = None) -> None:
        """Thinking text: shown in its own section while the model thinks (``show_thinking``)."""
        if not piece or self._first_shown or self._thought_for is not None:
            return  # reasoning after the answer (or a call) began is kept by the stream, not shown
        if self._thinking_since is None:
            self._thinking_since = time.monotonic()
            self._loading = False
            self.thinking = MarkdownStream(remote_images=self.remote_images)
            if self.show_thinking:
                self._first_thought()
            self._show_waiting(self._waiting_label())
        assert self.thinking is not None
        self.thinking.feed(piece)
        self._dirty = self._dirty or self.show_thinking

    def _first_thought(self) -> None:
        """What changes in the view when the model starts thinking (a section for it)."""

    def feed(self, piece: str, stats: StreamStats | None = None) -> None:
        if not piece:
            return
        self.stream.feed(piece)
        self._pieces_seen += 1
        self._dirty = True
        if not self._first_shown:  # the first token is shown at once, never held for a frame
            self._first_shown = True
            self._loading = False
            self._stop_thinking()
            self._first_token()
            self.flush(stats)

    def call(self, call: ToolCallEvent, stats: StreamStats | None = None) -> None:
        """A tool call as it grows: a card below the answer (the status line names it meanwhile)."""
        first = not self.calls
        self.calls[call.index] = call
        self._cards = None
        self._dirty = True
        self._loading = False
        if first:
            self._stop_thinking()
            self._first_call()
            if not self._first_shown:
                self._show_waiting(self._waiting_label())

    def _stop_thinking(self) -> None:
        """The model has stopped thinking (it answers, or calls a tool): the section closes, once."""
        if self._thinking_since is None or self._thought_for is not None:
            return
        self._thought_for = time.monotonic() - self._thinking_since
        self._thinking_done()

    def offer_stop(self, stop: Callable[[], None]) -> None:
        """Frames of display data cannot be clicked; the widget view shows a Stop button."""

    def due_in(self) -> float | None:
        if not self._dirty:
            if self._thinking_now():
                return THINKING_TICK  # the "Thinking… N s" clock
            return LOADING_POLL if self._loading else None
        return max(0.0, self._last_frame + self._frame_interval - time.monotonic())

    def flush(self, stats: StreamStats | None = None) -> None:
        """Send what changed since the last frame (nothing when nothing did)."""
        if self._loading and litellm_ready():
            self._loading = False
            if not self._first_shown:
                self._show_waiting(self._waiting_label())
        if self._dirty or self._thinking_now():
            self._draw(stats)

    def _thinking_now(self) -> bool:
        """The model thinks and has not yet answered or called: its clock ticks."""
        return self._thinking_since is not None and self._thought_for is None and not self._first_shown

    def _show_waiting(self, label: str) -> None:  # pragma: no cover - each view draws its spinner
        raise NotImplementedError

    def _draw(self, stats: StreamStats | None) -> None:  # pragma: no cover - each view draws its frames
        raise NotImplementedError

    def settle(self, outcome: Outcome) -> None:
        """Replace the live view in place with the static output, then free the live one."""
        thought = self._thought_html() if self.show_thinking else None
        self.bundle = settled_bundle(
            outcome, self.stream.finish, remote_images=self.remote_images, thinking=thought
        )
        self._settled_metadata = {"kagura_magic": outcome.metadata()}
        if self._handle is not None:
            self._handle.update(self.bundle, raw=True, metadata=self._settled_metadata)
        self._release()

    def show_settled_again(self) -> None:
        """Send the settled output once more: for a background answer that settled while no cell
        was running, whose update a frontend reading only the running cell's messages missed."""
        if self._handle is not None and self.bundle is not None:
            self._handle.update(self.bundle, raw=True, metadata=self._settled_metadata)

    def _thought_html(self) -> tuple[str, str] | None:
        """(summary, HTML) of what the model thought, for the settled output."""
        if self.thinking is None or not self.thinking.text.strip():
            return None
        if self._thought_for is None and self._thinking_since is not None:
            self._thought_for = time.monotonic() - self._thinking_since
        return self._thought_label(), self.thinking.finish()

    def _first_token(self) -> None:
        """What changes in the view the moment the first token arrives."""

    def _thinking_done(self) -> None:
        """What changes in the view when the model stops thinking (its section closes)."""

    def _first_call(self) -> None:
        """What changes in the view when the first tool call arrives (a place for the cards)."""

    def _release(self) -> None:
        """Free what the live view held once the answer has settled."""
