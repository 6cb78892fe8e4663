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


class DisplayView:
    """The coalescing half of a live HTML view; subclasses draw ``start`` and ``flush``."""

    MIN_INTERVAL = MIN_FRAME_INTERVAL

    def __init__(self, label: str, mode: LiveMode = "markdown", *, remote_images: bool = False) -> None:
        self.label = label
        self.remote_images = remote_images
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
        """What the spinner says: the first cell of a session waits for litellm's import first."""
        return "Loading litellm…" if self._loading else f"Waiting for {self.label}…"

    def feed(self, piece: str, stats: StreamStats | None = None) -> None:
        if not piece:
            return
        self.stream.feed(piece)
        self._pieces_seen += 1
        self._dirty = True
        if not self._first_shown:  # the first token is shown at once, never held for a frame
            self._first_shown = True
            self._loading = False
            self._first_token()
            self.flush(stats)

    def due_in(self) -> float | None:
        if not self._dirty:
            return LOADING_POLL if self._loading else None
        return max(0.0, self._last_frame + self._frame_interval - time.monotonic())

    def flush(self, stats: StreamStats | None = None) -> None:
        """Send what changed since the last frame (nothing when nothing did)."""
        if self._loading and litellm_ready():
            self._loading = False
            if not self._first_shown:
                self._show_waiting(self._waiting_label())
        if self._dirty:
            self._draw(stats)

    def _show_waiting(self, label: str) -> None:  # pragma: no cover - each view draws its spinner
        raise NotImplementedError

    def _draw(self, stats: StreamStats | None) -> None:  # pragma: no cover - each view draws its frames
        raise NotImplementedError

    def settle(self, outcome: Outcome) -> None:
        """Replace the live view in place with the static output, then free the live one."""
        self.bundle = settled_bundle(outcome, self.stream.finish, remote_images=self.remote_images)
        if self._handle is not None:
            self._handle.update(self.bundle, raw=True, metadata={"kagura_magic": outcome.metadata()})
        self._release()

    def _first_token(self) -> None:
        """What changes in the view the moment the first token arrives."""

    def _release(self) -> None:
        """Free what the live view held once the answer has settled."""
