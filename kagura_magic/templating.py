"""Prompt templates: ``{{ expression }}`` over a namespace, and nothing else.

Prompts are full of code, and code is full of braces: ``{}`` dicts, f-string
``{{`` escapes, shell ``${#array[@]}``. So only ``{{ … }}`` expressions and
``{% … %}`` blocks are special; Jinja's ``{# … #}`` comments are switched off
(they would swallow shell code), and an undefined name is an error that names
it instead of silently becoming an empty string.

A value that is a picture (a matplotlib figure, a PIL image, image bytes,
``image("plot.png")``) is not turned into text: ``render_prompt`` puts it in
the prompt as an image part, where its expression stands.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from contextvars import ContextVar
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from kagura_magic.errors import ImageError, TemplateError
from kagura_magic.prompt import Prompt

if TYPE_CHECKING:
    from kagura_magic.images import PromptImage

if TYPE_CHECKING:
    import jinja2

# The pictures of the render in progress; None when the caller wants text only.
_pictures: ContextVar[list[PromptImage] | None] = ContextVar("kagura_pictures", default=None)
_MARK = "\ue000kagura-image-{}\ue001"  # private-use characters: never in a prompt's own text
_MARKS = re.compile("\ue000kagura-image-(\\d+)\ue001")
_NO_TEMPLATE_HINT = "Define it first, or pass --no-template to send the text as is."
_UNDEFINED_NAME = re.compile(r"^'([^']+)' is undefined$")


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    import jinja2

    return jinja2.Environment(
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        comment_start_string="\x00{#",  # never matches: see the module docstring
        comment_end_string="#}\x00",
        # Every {{ value }} is bounded: a DataFrame or a huge list is summarised
        # with a note, never dumped whole into the prompt.
        finalize=_finalize,
    )


def _finalize(value: Any) -> str:
    """A ``{{ }}`` value as prompt text, or, for a picture, a mark where its image part goes."""
    from kagura_magic.context import ShownOutput, summarise
    from kagura_magic.images import as_image, from_bytes

    pictures = _pictures.get()
    if pictures is None:  # text wanted: a picture is summarised by its type, as any value
        return summarise(value.value if isinstance(value, ShownOutput) else value)
    if isinstance(value, ShownOutput):  # Out[n]: the cell's value (if it is not the plot), its pictures
        text = "" if value.value is None else summarise(value.value) + "\n"
        for data in value.pictures:
            text += _mark(pictures, from_bytes(data, f"Out[{value.number}]"))
        return text
    picture = as_image(value)
    return summarise(value) if picture is None else _mark(pictures, picture)


def _mark(pictures: list[PromptImage], picture: PromptImage) -> str:
    pictures.append(picture)
    return _MARK.format(len(pictures) - 1)


def has_template(text: str) -> bool:
    """Cheap test so plain prompts skip Jinja entirely."""
    return "{{" in text or "{%" in text


def render_prompt(text: str, namespace: Mapping[str, Any]) -> Prompt:
    """Render ``text`` over ``namespace``, pictures as image parts in place; one-line errors."""
    if not has_template(text):
        return Prompt.of(text)
    pictures: list[PromptImage] = []
    token = _pictures.set(pictures)
    try:
        rendered = render_template(text, namespace)
    finally:
        _pictures.reset(token)
    parts: list[str | PromptImage] = []
    for index, piece in enumerate(_MARKS.split(rendered)):  # text, number, text, number, …, text
        is_mark = index % 2 == 1 and int(piece) < len(pictures)
        parts.append(pictures[int(piece)] if is_mark else _MARK.format(piece) if index % 2 else piece)
    return Prompt(tuple(part for part in parts if part != ""))


def render_template(text: str, namespace: Mapping[str, Any]) -> str:
    """Render ``text`` over ``namespace``; one-line ``TemplateError`` on failure."""
    if not has_template(text):
        return text
    import jinja2

    try:
        return _environment().from_string(text).render(dict(namespace))
    except (ImageError, TemplateError) as exc:  # said in our words already (a picture, Out[n])
        raise TemplateError(f"Prompt template: {exc.message}", exc.hint or _NO_TEMPLATE_HINT) from None
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
