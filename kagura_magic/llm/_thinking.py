"""Inline ``<think>`` blocks: the reasoning some models write into the answer itself.

DeepSeek-R1, Qwen3 and others served by Ollama, vLLM or llama.cpp often send
their reasoning as content, wrapped in ``<think>…</think>`` before the
answer, instead of in ``reasoning_content``. ``ThinkSplitter`` separates the
two as the text arrives, whatever the chunking (``<th`` + ``ink>``): what is
inside the tags is thinking, never answer text.

Only a block at the very start counts (leading whitespace aside): an answer
that merely mentions ``<think>`` later, in prose or in code, is left alone.
So is an answer that never opens one: once a character that cannot begin
``<think>`` arrives, the splitter passes everything through unchanged. A
block never closed (the stream was cut) stays thinking: nothing of it is
shown as the answer. After ``</think>`` the whitespace before the answer is
dropped, as chat UIs show it.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Split", "ThinkSplitter"]

OPEN, CLOSE = "<think>", "</think>"


@dataclass(frozen=True)
class Split:
    """What one piece of content was: thinking text and answer text (either may be empty)."""

    thinking: str = ""
    text: str = ""


class ThinkSplitter:
    """Feed content pieces; each ``feed`` returns what is certain so far."""

    def __init__(self) -> None:
        self._state = "start"  # start -> thinking -> after -> answer; or start -> answer
        self._held = ""  # text that may still turn out to be (part of) a tag

    @property
    def thinking(self) -> bool:
        """Whether the model is inside a ``<think>`` block now."""
        return self._state == "thinking"

    def feed(self, piece: str) -> Split:
        if self._state == "answer":
            return Split(text=piece)
        text = self._held + piece
        self._held = ""
        if self._state == "start":
            return self._at_start(text)
        if self._state == "thinking":
            return self._in_thinking(text)
        return self._after(text)

    def finish(self) -> Split:
        """The end of the stream: what was held back is what it was."""
        held, self._held = self._held, ""
        if self._state == "thinking":
            return Split(thinking=held)
        if self._state == "start":
            self._state = "answer"
            return Split(text=held)
        return Split()

    def _at_start(self, text: str) -> Split:
        stripped = text.lstrip()
        if stripped.startswith(OPEN):
            self._state = "thinking"
            return self._in_thinking(stripped[len(OPEN) :])
        if OPEN.startswith(stripped):  # "", "<", "<th", …: wait for more
            self._held = text
            return Split()
        self._state = "answer"
        return Split(text=text)

    def _in_thinking(self, text: str) -> Split:
        end = text.find(CLOSE)
        if end >= 0:
            self._state = "after"
            rest = self._after(text[end + len(CLOSE) :])
            return Split(thinking=text[:end], text=rest.text)
        keep = _partial_suffix(text, CLOSE)
        self._held = text[len(text) - keep :] if keep else ""
        return Split(thinking=text[: len(text) - keep])

    def _after(self, text: str) -> Split:
        stripped = text.lstrip()
        if not stripped:
            return Split()  # only the whitespace between the block and the answer so far
        self._state = "answer"
        return Split(text=stripped)


def _partial_suffix(text: str, tag: str) -> int:
    """Length of the longest end of ``text`` that is a start of ``tag`` (a tag cut by a chunk)."""
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:size]):
            return size
    return 0
