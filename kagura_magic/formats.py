"""What ``-f/--format`` does with an answer once it is complete.

``markdown`` (the default) renders it; ``text`` shows it verbatim; ``code``
also puts its code into the next cell; ``json`` validates, pretty-prints and
parses it; ``html`` renders it through an allow-list sanitizer (ammonia, via
``nh3``), because model-written HTML is untrusted.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from kagura_magic.errors import FormatError

if TYPE_CHECKING:
    from markdown_it import MarkdownIt

__all__ = ["FORMATS", "LIVE_MODES", "Finished", "FormatError", "LiveMode", "Rendering", "finish"]

FORMATS = ("markdown", "text", "code", "json", "html")
LiveMode = Literal["markdown", "verbatim", "data"]
"""How a view shows text while it arrives: rendered Markdown, the characters as
they are, or data (JSON) that a view may hold back until it is complete."""
LIVE_MODES: dict[str, LiveMode] = {
    "markdown": "markdown",
    "code": "markdown",
    "text": "verbatim",
    "html": "verbatim",
    "json": "data",
}

_PYTHON_LANGS = {"", "python", "py", "python3", "ipython", "ipython3"}


def code_blocks(markdown: str) -> list[tuple[str, str]]:
    """Every fenced block as (language, code), in order.

    Parsed, not matched with a pattern: models often put code inside a list
    item ("1. Install it:" then an indented fence), and only a Markdown parser
    knows where such a block ends and how much indentation is not code.
    """
    return [
        ((token.info.strip().split() or [""])[0].lower(), token.content.rstrip("\n"))
        for token in _fence_parser().parse(markdown)
        if token.type == "fence"
    ]


@functools.cache
def _fence_parser() -> MarkdownIt:
    from markdown_it import MarkdownIt  # on first use: `kagura --help` reads FORMATS from here

    return MarkdownIt("commonmark")


def code_for_next_cell(markdown: str) -> str | None:
    """The code a user would want as the next cell: the Python blocks, else all blocks.

    An answer with no fence at all is taken as code only when it is not prose
    (no block at all means we have nothing reliable to offer).
    """
    blocks = code_blocks(markdown)
    if not blocks:
        return None
    python = [code for lang, code in blocks if lang in _PYTHON_LANGS]
    chosen = python or [code for _, code in blocks]
    return "\n\n".join(chosen).strip() + "\n" if chosen else None


def parse_json_answer(text: str) -> Any:
    """The JSON value in an answer, which may be fenced as ```json."""
    candidate = text.strip()
    blocks = code_blocks(candidate)
    if blocks and not candidate.startswith(("{", "[")):
        candidate = next((code for lang, code in blocks if lang in ("json", "")), blocks[0][1])
    try:
        return json.loads(candidate)
    except json.JSONDecodeError as error:
        raise FormatError(
            f"The answer is not valid JSON (line {error.lineno}, column {error.colno}: {error.msg}).",
            "Ask for JSON only (e.g. 'Answer with a JSON object'), or use -f markdown.",
        ) from None


def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


def sanitize_html(html: str) -> str:
    """Keep formatting tags; drop scripts, event handlers, styles and dangerous URLs."""
    import nh3

    return nh3.clean(html, url_schemes={"http", "https", "mailto"}, link_rel="noopener noreferrer")


def fenced(code: str, language: str = "") -> str:
    """Markdown for ``code`` in a fence that its own backticks cannot close."""
    longest = max((len(run) for run in re.findall(r"`+", code)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{code.rstrip(chr(10))}\n{fence}"


@dataclass(frozen=True)
class Rendering:
    """How a complete answer of a format settles, when not simply as its Markdown.

    ``markdown`` replaces the streamed source for display (``-f json``: the
    parsed value, pretty and fenced); ``html`` replaces the rendered HTML
    (``-f html``: the sanitised answer); ``extra`` adds mimetypes and
    ``omit`` drops some from the saved bundle.
    """

    markdown: str | None = None
    html: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    omit: tuple[str, ...] = ()


@dataclass(frozen=True)
class Finished:
    """A complete answer in its format: the value ``-o`` stores, how it settles, the next cell."""

    value: Any
    rendering: Rendering = field(default_factory=Rendering)
    next_cell: str | None = None


def finish(output_format: str, text: str, finish_reason: str | None = None) -> Finished:
    """Apply ``-f`` to a complete answer; ``FormatError`` when it is not in that format."""
    if output_format == "json":
        try:
            value = parse_json_answer(text)
        except FormatError as error:
            if finish_reason == "length":  # cut off, not badly asked
                raise FormatError(
                    error.message, "The answer was cut off at the token limit: raise --max-tokens."
                ) from None
            raise
        saved = value if isinstance(value, dict | list) else {"value": value}
        return Finished(
            value, Rendering(markdown=fenced(pretty_json(value), "json"), extra={"application/json": saved})
        )
    if output_format == "html":
        # No text/markdown copy: a frontend that rendered that would see the raw HTML.
        return Finished(text, Rendering(html=sanitize_html(text), omit=("text/markdown",)))
    if output_format == "code":
        code = code_for_next_cell(text)
        return Finished(code if code is not None else text, next_cell=code)
    return Finished(text)
