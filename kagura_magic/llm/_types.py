"""The data that crosses the package's edge: messages in, stats and answers out.

Plain data classes with no litellm in them, so views, the history and the
CLI can use them without paying for litellm's import.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

Message = dict[str, Any]
PromptOrMessages = str | Sequence[Message]


@dataclass
class StreamStats:
    """What a view shows after (or during) an answer."""

    model: str
    started: float = field(default_factory=time.monotonic)
    first_token_at: float | None = None
    finished_at: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    tokens_estimated: bool = False
    cost: float | None = None
    finish_reason: str | None = None
    attempts: int = 0
    reasoning_tokens: int | None = None  # from usage, where the provider reports them
    thinking_started: float | None = None  # first thinking text
    thinking_ended: float | None = None  # first answer text after thinking

    @property
    def thinking_seconds(self) -> float | None:
        """How long the model thought before answering (so far, while it still thinks)."""
        if self.thinking_started is None:
            return None
        end = self.thinking_ended or self.finished_at or time.monotonic()
        return end - self.thinking_started

    @property
    def time_to_first_token(self) -> float | None:
        return None if self.first_token_at is None else self.first_token_at - self.started

    @property
    def duration(self) -> float:
        end = self.finished_at if self.finished_at is not None else time.monotonic()
        return end - self.started

    @property
    def tokens_per_second(self) -> float | None:
        """Generation speed, measured from the first token (what the reader feels)."""
        if not self.completion_tokens or self.first_token_at is None:
            return None
        end = self.finished_at if self.finished_at is not None else time.monotonic()
        span = end - self.first_token_at
        return self.completion_tokens / span if span > 0 else None

    def summary(self) -> str:
        """One status line: model · first token · tok/s · tokens · cost."""
        parts = [self.model]
        if self.time_to_first_token is not None:
            parts.append(f"first token {self.time_to_first_token:.2f} s")
        if self.tokens_per_second is not None:
            parts.append(f"{self.tokens_per_second:.0f} tok/s")
        if self.completion_tokens is not None:
            approx = "~" if self.tokens_estimated else ""
            parts.append(f"{approx}{self.completion_tokens} tokens")
        if self.reasoning_tokens:
            parts.append(f"{self.reasoning_tokens} reasoning")
        if self.cost:  # unknown (None) or free (0, e.g. the demo and local models): nothing to show
            parts.append(f"${self.cost:.4f}")
        if self.finish_reason == "length":
            parts.append("stopped at max tokens")
        elif self.finish_reason == "content_filter":
            parts.append("cut by the provider's content filter")
        return " · ".join(parts)

    def as_metadata(self) -> dict[str, Any]:
        """JSON-safe numbers for notebook output metadata."""
        return {
            "model": self.model,
            "time_to_first_token": self.time_to_first_token,
            "duration": self.duration,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "tokens_per_second": self.tokens_per_second,
            "cost": self.cost,
            "finish_reason": self.finish_reason,
            "reasoning_tokens": self.reasoning_tokens,
            "thinking_seconds": self.thinking_seconds,
        }


@dataclass(frozen=True)
class ThinkingEvent:
    """Thinking text, in arrival order (``reasoning_content``, thinking blocks or ``<think>``)."""

    text: str


@dataclass(frozen=True)
class TextEvent:
    """Answer text: what iterating the stream itself yields."""

    text: str


@dataclass(frozen=True)
class ToolCallEvent:
    """A tool call as it grows: ``arguments`` is the whole argument text so far, not a delta."""

    index: int
    name: str
    arguments: str
    id: str | None = None


StreamEvent = ThinkingEvent | TextEvent | ToolCallEvent


@dataclass(frozen=True)
class LLMResponse:
    """A complete (non-streamed) answer."""

    content: str
    model: str
    usage: dict[str, int]
    duration: float
    cost: float | None
    finish_reason: str | None = None
    cached: bool = False

    def __str__(self) -> str:
        return self.content
