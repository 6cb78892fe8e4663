"""Prompt templates: ``{{ expression }}`` over a namespace, and nothing else.

Prompts are full of code, and code is full of braces: ``{}`` dicts, f-string
``{{`` escapes, shell ``${#array[@]}``. So only ``{{ … }}`` expressions and
``{% … %}`` blocks are special; Jinja's ``{# … #}`` comments are switched off
(they would swallow shell code), and an undefined name is an error that names
it instead of silently becoming an empty string.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from kagura_magic.errors import TemplateError

if TYPE_CHECKING:
    import jinja2

_NO_TEMPLATE_HINT = "Define it first, or pass --no-template to send the text as is."
_UNDEFINED_NAME = re.compile(r"^'([^']+)' is undefined$")


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    import jinja2

    from kagura_magic.context import summarise

    return jinja2.Environment(
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        comment_start_string="\x00{#",  # never matches: see the module docstring
        comment_end_string="#}\x00",
        # Every {{ value }} is bounded: a DataFrame or a huge list is summarised
        # with a note, never dumped whole into the prompt.
        finalize=summarise,
    )


def has_template(text: str) -> bool:
    """Cheap test so plain prompts skip Jinja entirely."""
    return "{{" in text or "{%" in text


def render_template(text: str, namespace: Mapping[str, Any]) -> str:
    """Render ``text`` over ``namespace``; one-line ``TemplateError`` on failure."""
    if not has_template(text):
        return text
    import jinja2

    try:
        return _environment().from_string(text).render(dict(namespace))
    except jinja2.UndefinedError as exc:
        message = exc.message or "a name is undefined"
        raise TemplateError(f"Prompt template: {message}.", _undefined_hint(message, namespace)) from None
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(
            f"Prompt template, line {exc.lineno}: {exc.message}.",
            "Fix the {{ }} expression, or pass --no-template to send the text as is.",
        ) from None
    except Exception as exc:  # an expression that raised while evaluating
        raise TemplateError(
            f"Prompt template: evaluating an expression raised {type(exc).__name__}: {exc}",
            _NO_TEMPLATE_HINT,
        ) from None


def _undefined_hint(message: str, namespace: Mapping[str, Any]) -> str:
    """``Did you mean df?`` for ``{{ dff }}``: a typo is the likeliest cause of an undefined name."""
    match = _UNDEFINED_NAME.match(message)
    if match is None:
        return _NO_TEMPLATE_HINT
    names = [name for name in namespace if isinstance(name, str) and not name.startswith("_")]
    close = difflib.get_close_matches(match.group(1), names, n=1, cutoff=0.75)
    return f"Did you mean {close[0]}? {_NO_TEMPLATE_HINT}" if close else _NO_TEMPLATE_HINT
