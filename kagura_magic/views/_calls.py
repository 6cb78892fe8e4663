"""Tool calls as a reader sees them: a small card per call, in every view.

kagura-magic does not run tools (``@agent(stream=True, tools=…)`` says why);
but a model given ``tools`` through ``--param`` (or one that calls on its
own) may answer with a call instead of text. "No text" would hide what it
asked for, so each call is shown: the function's name and its arguments,
pretty-printed once they are complete JSON, as the best chat UIs show a
pending call. The card's words are made here once; the HTML views, the
terminal and the saved bundle only place them.

Everything in a call is model output: the name and the arguments reach HTML
only escaped, or inside a code block of our Markdown engine, which escapes.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence

from kagura_magic.formats import fenced
from kagura_magic.llm import ToolCallEvent

__all__ = [
    "CALL_CLASS",
    "CALL_CSS",
    "NOT_RUN",
    "calls_html",
    "calls_markdown",
    "calls_text",
    "pretty_arguments",
]

CALL_CLASS = "kagura-tool-call"
NOT_RUN = "shown, not run: kagura-magic does not run tools"

CALL_CSS = """
/* A tool call the model asked for: a small bordered card below the answer. */
.kagura-md .kagura-tool-call { border: 1px solid var(--jp-border-color2, rgba(127, 127, 127, 0.35));
  border-radius: 6px; padding: 0.4em 0.7em; margin: 0.5em 0; }
.kagura-md .kagura-tool-call-head { font-family: var(--jp-ui-font-family, sans-serif); font-size: 0.9em; }
.kagura-md .kagura-tool-call-note { color: var(--jp-content-font-color2, #666); font-size: 0.8em; }
.kagura-md .kagura-tool-call pre { margin: 0.4em 0 0.2em; }
"""
"""Only where an answer has tool calls (and in every live view, which may come to)."""


def pretty_arguments(arguments: str) -> str:
    """The arguments indented when they are complete JSON, as they stand otherwise (still growing)."""
    try:
        value = json.loads(arguments)
    except ValueError:
        return arguments
    return json.dumps(value, indent=2, ensure_ascii=False)


def _name(call: ToolCallEvent) -> str:
    return call.name or "(unnamed function)"


def _code_span(text: str) -> str:
    """``text`` as a Markdown code span that its own backticks cannot end."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    ticks = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def calls_markdown(calls: Sequence[ToolCallEvent]) -> str:
    """The calls as Markdown, for the saved ``text/markdown`` and the terminal."""
    cards = []
    for call in calls:
        arguments = pretty_arguments(call.arguments)
        card = f"**Tool call** {_code_span(_name(call))}"
        if arguments.strip():
            card += "\n\n" + fenced(arguments, "json")
        cards.append(f"{card}\n\n*({NOT_RUN})*")
    return "\n\n".join(cards)


def calls_html(calls: Sequence[ToolCallEvent]) -> str:
    """The calls as cards for the HTML views (live and settled); "" when there are none."""
    from kagura_magic.markdown import render

    cards = []
    for call in calls:
        arguments = pretty_arguments(call.arguments)
        code = render(fenced(arguments, "json")) if arguments.strip() else ""
        cards.append(
            f'<div class="{CALL_CLASS}"><div class="kagura-tool-call-head">Tool call '
            f"<code>{html.escape(_name(call))}</code></div>{code}"
            f'<div class="kagura-tool-call-note">{html.escape(NOT_RUN)}</div></div>'
        )
    return "".join(cards)


def calls_text(calls: Sequence[ToolCallEvent]) -> str:
    """The calls in plain text, one per line: ``get_weather({"city": "Paris"})``."""
    return "\n".join(f"Tool call: {_name(call)}({call.arguments})" for call in calls)
