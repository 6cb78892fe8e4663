"""What both HTML views share: text in, frames on time, one display that settles in place.

The caller feeds text and asks ``due_in()`` how long it may wait for more
before calling ``flush()``; a view never starts threads or timers, so every
message is sent from the thread running the cell. The view lives in one
``display_id``; settling updates it in place with the static bundle, so the
saved notebook keeps only the finished answer.
"""

from __future__ import annotations

import time
from typing import Any

from kagura_magic.llm import StreamStats, litellm_ready
from kagura_magic.markdown import MarkdownStream, PlainTextStream
from kagura_magic.views._bundle import settled_bundle
from kagura_magic.views._protocol import LiveMode, Outcome

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

    @property
    def text(self) -> str:
        return self.stream.text

    def start(self) -> None:  # pragma: no cover - each view shows its own first frame
        raise NotImplementedError

    def _waiting_label(self) -> str:
        """What the spinner says: the first cell of a session waits for litellm's import first,
        and a reasoning model says how long it has been thinking."""
        if self._thinking_since is not None:
            return f"Thinking… {time.monotonic() - self._thinking_since:.0f} s"
        return "Loading litellm…" if self._loading else f"Waiting for {self.label}…"

    def _thought_label(self) -> str:
        seconds = self._thought_for if self._thought_for is not None else 0.0
        return f"Thought for {seconds:.0f} s" if seconds >= 1 else "Thought for a moment"

    def think(self, piece: str, stats: StreamStats | None = None) -> None:
        """Thinking text: shown in its own section while the model thinks (``show_thinking``)."""
        if not piece or self._first_shown:
            return  # reasoning after the answer began is kept by the stream, not shown
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
            if self._thinking_since is not None:
                self._thought_for = time.monotonic() - self._thinking_since
            self._first_token()
            self.flush(stats)

    def due_in(self) -> float | None:
        if not self._dirty:
            if self._thinking_since is not None and not self._first_shown:
                return THINKING_TICK  # the "Thinking… N s" clock
            return LOADING_POLL if self._loading else None
        return max(0.0, self._last_frame + self._frame_interval - time.monotonic())

    def flush(self, stats: StreamStats | None = None) -> None:
        """Send what changed since the last frame (nothing when nothing did)."""
        if self._loading and litellm_ready():
            self._loading = False
            if not self._first_shown:
                self._show_waiting(self._waiting_label())
        if self._dirty or (self._thinking_since is not None and not self._first_shown):
            self._draw(stats)

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
        if self._handle is not None:
            self._handle.update(self.bundle, raw=True, metadata={"kagura_magic": outcome.metadata()})
        self._release()

    def _thought_html(self) -> tuple[str, str] | None:
        """(summary, HTML) of what the model thought, for the settled output."""
        if self.thinking is None or not self.thinking.text.strip():
            return None
        if self._thought_for is None and self._thinking_since is not None:
            self._thought_for = time.monotonic() - self._thinking_since
        return self._thought_label(), self.thinking.finish()

    def _first_token(self) -> None:
        """What changes in the view the moment the first token arrives."""

    def _release(self) -> None:
        """Free what the live view held once the answer has settled."""
