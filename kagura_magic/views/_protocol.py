"""What every view of an answer is, and what it is told when the answer ends.

A view (the notebook's widgets, ``update_display_data`` frames, the terminal)
is driven from one thread: ``start`` shows that an answer is coming, ``feed``
takes text, ``think`` what a reasoning model thinks before it, ``call`` a
tool call as it grows, ``due_in``/``flush`` let the caller send coalesced
frames on time, ``offer_stop`` gives it a way to stop the answer that it may
show (a Stop button), and ``settle`` ends it with an ``Outcome``. Views never decide what an
ending means or how to word it: ``answer.py`` does, once, for all of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from kagura_magic.formats import LiveMode, Rendering
from kagura_magic.llm import StreamStats, ToolCallEvent

__all__ = ["LiveMode", "Outcome", "Rendering", "Status", "View", "thought_label"]

Status = Literal["complete", "interrupted", "stopped", "failed", "empty", "invalid"]


@dataclass(frozen=True)
class Outcome:
    """How one answer ended: what arrived is kept whatever happened.

    ``message`` is the one or two lines the caller says about a non-complete
    ending (the cell's error line, the CLI's stderr); ``note`` is what the
    settled output itself says, for callers that have no such line of their
    own (``show_stream``).
    """

    status: Status
    text: str = ""
    stats: StreamStats | None = None
    message: str | None = None
    error: BaseException | None = None
    note: str | None = None
    rendering: Rendering = field(default_factory=Rendering)
    output_format: str | None = None
    value: Any = None  # what ``-o`` stores: the text, the parsed JSON, the code
    next_cell: str | None = None  # -f code: what to offer as the next cell
    tool_calls: tuple[ToolCallEvent, ...] = ()  # what the model asked to run (shown, never run)

    @property
    def ok(self) -> bool:
        return self.status == "complete"

    def metadata(self) -> dict[str, Any]:
        """JSON-safe facts saved with the output (``status`` keeps its long-standing values)."""
        facts: dict[str, Any] = self.stats.as_metadata() if self.stats is not None else {}
        if self.status in ("interrupted", "failed") and self.text:  # "stopped" stays itself
            status = "partial"
        elif self.status == "failed":
            status = "error"
        else:
            status = self.status
        facts["status"] = status
        if self.output_format is not None:
            facts["format"] = self.output_format
        if self.tool_calls:
            facts["tool_calls"] = [call.name for call in self.tool_calls]
        return facts


class View(Protocol):
    """The one interface the pump and ``answer.py`` drive (see the module docstring)."""

    @property
    def text(self) -> str:
        """Everything fed so far."""
        ...

    def start(self) -> None: ...

    def feed(self, piece: str, stats: StreamStats | None = None) -> None: ...

    def think(self, piece: str, stats: StreamStats | None = None) -> None:
        """Thinking text, before the answer: shown apart from it, or only counted."""
        ...

    def call(self, call: ToolCallEvent, stats: StreamStats | None = None) -> None:
        """A tool call as it stands (its arguments so far): shown as a card, never run."""
        ...

    def due_in(self) -> float | None:
        """Seconds until a pending frame is due; ``None`` when nothing waits to be shown."""
        ...

    def flush(self, stats: StreamStats | None = None) -> None: ...

    def offer_stop(self, stop: Callable[[], None]) -> None:
        """``stop`` ends the answer as stopped, from any thread: a view may offer it to the user."""
        ...

    def settle(self, outcome: Outcome) -> None:
        """Replace the live view with its final form (or leave what was shown, and stop)."""
        ...


def thought_label(seconds: float | None) -> str:
    """What a closed thinking section says, in every view: "Thought for 12 s"."""
    if seconds is None or seconds < 1:
        return "Thought for a moment"
    return f"Thought for {seconds:.0f} s"
