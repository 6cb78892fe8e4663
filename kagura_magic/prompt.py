"""A prompt as its template made it: text, with pictures where their ``{{ }}`` stood.

Kept as ordered parts (not text with markers) so the message sent has each
picture exactly where the user wrote it, people and ``%agent history`` read
the same prompt with ``[image 1: 640×480 PNG …]`` in its place, and the
history can hold each picture once however many exchanges refer to it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from kagura_magic.images import PromptImage, size_of_data_url
from kagura_magic.llm import Message

SAME_IMAGE_AGAIN = "[the same image as earlier in this conversation]"


@dataclass(frozen=True)
class Prompt:
    parts: tuple[str | PromptImage, ...]

    @classmethod
    def of(cls, text: str) -> Prompt:
        return cls((text,))

    @property
    def images(self) -> tuple[PromptImage, ...]:
        return tuple(part for part in self.parts if isinstance(part, PromptImage))

    @property
    def text(self) -> str:
        """The prompt as people read it, each picture as a placeholder that says what it is."""
        pieces, number = [], 0
        for part in self.parts:
            if isinstance(part, PromptImage):
                number += 1
                pieces.append(f"[image {number}: {part.describe()}]")
            else:
                pieces.append(part)
        return "".join(pieces)

    @property
    def identity(self) -> str:
        """The text and the pictures' digests: two prompts are the same exchange only if both match."""
        return self.text + "".join(f"\x00{image.digest}" for image in self.images)

    def content(self) -> str | list[dict[str, Any]]:
        """A user message's content: the text alone, or text and image parts in the prompt's order."""
        if not self.images:
            return self.text
        parts: list[dict[str, Any]] = []
        for part in self.parts:
            if isinstance(part, PromptImage):
                parts.append(part.part())
            elif part:
                parts.append({"type": "text", "text": part})
        return parts

    def map_text(self, change: Callable[[str], str]) -> Prompt:
        return Prompt(tuple(part if isinstance(part, PromptImage) else change(part) for part in self.parts))

    def interned(self, store: dict[str, PromptImage]) -> Prompt:
        """This prompt with each picture replaced by the equal one ``store`` holds (added if new)."""
        shared = (store.setdefault(p.digest, p) if isinstance(p, PromptImage) else p for p in self.parts)
        return Prompt(tuple(shared))


def text_of(prompt: str | Prompt) -> str:
    return prompt.text if isinstance(prompt, Prompt) else prompt


def image_urls(messages: Iterable[Message]) -> list[str]:
    """Every image part's URL in ``messages``, in order (what a request carries)."""
    return [
        str(part["image_url"]["url"])
        for message in messages
        for part in _parts(message)
        if part.get("type") == "image_url" and isinstance(part.get("image_url"), dict)
    ]


def sent_once(messages: list[Message]) -> list[Message]:
    """``messages`` with every repeat of a picture replaced by a note: one copy reaches the model.

    The same plot asked about in three cells is sent (and paid for) once, in the
    earliest message that still carries it.
    """
    seen: set[str] = set()

    def once(part: dict[str, Any]) -> dict[str, Any]:
        url = _url(part)
        if url is None:
            return part
        if url in seen:
            return {"type": "text", "text": SAME_IMAGE_AGAIN}
        seen.add(url)
        return part

    return [_map_parts(message, once) for message in messages]


def images_as_text(messages: list[Message]) -> list[Message]:
    """``messages`` with each picture as a line saying what it was, for a model that takes none."""

    def described(part: dict[str, Any]) -> dict[str, Any]:
        url = _url(part)
        if url is None:
            return part
        size = size_of_data_url(url)
        return {"type": "text", "text": f"[an image{f' ({size})' if size else ''} was here; not sent]"}

    return [_map_parts(message, described) for message in messages]


def _parts(message: Message) -> list[dict[str, Any]]:
    content = message.get("content")
    return [part for part in content if isinstance(part, dict)] if isinstance(content, list) else []


def _url(part: dict[str, Any]) -> str | None:
    if part.get("type") != "image_url":
        return None
    image_url = part.get("image_url")
    url = image_url.get("url") if isinstance(image_url, dict) else image_url
    return url if isinstance(url, str) else None


def _map_parts(message: Message, change: Callable[[dict[str, Any]], dict[str, Any]]) -> Message:
    content = message.get("content")
    if not isinstance(content, list):
        return message
    return {**message, "content": [change(part) if isinstance(part, dict) else part for part in content]}
