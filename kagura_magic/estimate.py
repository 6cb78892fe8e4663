"""What a cell would send and what it would cost, without sending it (``--dry-run``, ``%agent estimate``).

The messages are the ones the cell would send (the system prompt, the
conversation as it would be trimmed for this model, the prompt with its
``{{ }}`` filled in, each picture shown by its size), counted by litellm's tokenizer for that model, set
against the model's context window, and priced from litellm's price list.
Nothing is sent, so no API key is needed; a model litellm does not know is
counted with its default tokenizer and shown without a price.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

from kagura_magic.images import size_of_data_url
from kagura_magic.llm import Message
from kagura_magic.usage import usd


@dataclass(frozen=True)
class Estimate:
    """One cell's request, counted."""

    model: str
    messages: list[Message]
    tokens: list[int]  # each message's own count (litellm adds a few tokens of framing each)
    total: int  # the whole request, as litellm counts it
    window: int | None  # the model's input context window; None when litellm does not know it
    input_cost: float | None  # USD; None when litellm has no price for the model
    dropped: int = 0  # earlier exchanges left out to fit the window

    @property
    def share(self) -> float | None:
        return self.total / self.window if self.window else None


def estimate(model: str, messages: list[Message], dropped: int = 0) -> Estimate:
    """Count ``messages`` for ``model`` with litellm (imported here if it is not yet)."""
    from kagura_magic import llm

    tokens = [llm.count_tokens(model, [message]) for message in messages]
    total = llm.count_tokens(model, messages)
    return Estimate(
        model, messages, tokens, total, llm.known_context_window(model), llm.input_cost(model, total), dropped
    )


def summary_line(result: Estimate) -> str:
    """The one line that says it all: tokens, the window, the cost."""
    count = len(result.messages)
    line = f"{count} message{'s' if count != 1 else ''}, {result.total:,} tokens"
    if result.window is not None and result.share is not None:
        line += f" of a {result.window:,}-token context window ({result.share:.1%})"
    else:
        line += " (litellm does not know this model's context window)"
    if result.input_cost is not None:
        line += f"; input cost {usd(result.input_cost)}"
    else:
        line += "; no price for this model in litellm's list"
    if result.dropped:
        line += f"; {result.dropped} earlier exchange{'s' if result.dropped != 1 else ''} left out to fit"
    return line + "."


def bundle(result: Estimate) -> dict[str, Any]:
    """The estimate as a notebook output: every message in full, escaped (it is the user's text,
    or a model's earlier answer, and is shown, never run)."""
    header = f"Dry run: nothing was sent to {result.model}."
    plain = [header, summary_line(result), ""]
    rows = []
    for number, (message, tokens) in enumerate(zip(result.messages, result.tokens, strict=True), 1):
        role, content = str(message.get("role", "")), _content_text(message)
        plain += [f"--- {number}. {role} ({tokens:,} tokens) ---", content, ""]
        rows.append(
            f'<details class="kagura-estimate-message"{" open" if number == len(result.messages) else ""}>'
            f"<summary>{number}. <b>{html.escape(role)}</b> · {tokens:,} tokens</summary>"
            f'<pre style="white-space: pre-wrap">{html.escape(content)}</pre></details>'
        )
    page = (
        f'<div class="kagura-estimate"><p><b>{html.escape(header)}</b><br>{html.escape(summary_line(result))}'
        f"</p>{''.join(rows)}</div>"
    )
    return {"text/plain": "\n".join(plain).rstrip("\n"), "text/html": page}


def _content_text(message: Message) -> str:
    content = message.get("content", "")
    if isinstance(content, list):  # OpenAI "parts": text, and images as placeholders
        parts, pictures = [], 0
        for part in content:
            if isinstance(part, dict) and part.get("type") == "text":
                parts.append(str(part.get("text", "")))
            elif isinstance(part, dict) and part.get("type") == "image_url":
                pictures += 1
                image_url = part.get("image_url")
                url = image_url.get("url") if isinstance(image_url, dict) else image_url
                size = size_of_data_url(url) if isinstance(url, str) else None
                parts.append(f"[image {pictures}: {size or 'linked, not embedded'}]")
            else:
                parts.append(f"[{part.get('type', 'part') if isinstance(part, dict) else 'part'}]")
        return "\n".join(parts)
    return str(content)
