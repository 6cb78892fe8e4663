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
from typing import Any

from markdown_it import MarkdownIt

from kagura_magic.errors import AgentError

FORMATS = ("markdown", "text", "code", "json", "html")

_PYTHON_LANGS = {"", "python", "py", "python3", "ipython", "ipython3"}


class FormatError(AgentError):
    """The answer does not have the requested format."""


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
