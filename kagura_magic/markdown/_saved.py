"""The answer's Markdown as it is saved (``text/markdown``): inert in any renderer.

Our HTML shows raw HTML in an answer as text, but the saved Markdown is the
answer's source, and a frontend that renders ``text/markdown`` itself (a
trusted output in JupyterLab is not sanitised) would run ``<img onerror=…>``
or follow ``[x](javascript:…)``. Renderers disagree about what a tag is
(browsers take ``<svg/onload=…>``, CommonMark does not; one renderer knows
footnotes or math, another does not), so the rule is broad and textual:

- every ``<`` that could open a tag (``<`` then a letter, ``/``, ``!`` or
  ``?``) becomes ``&lt;``, which any Markdown renderer shows as ``<``: the
  text ours shows. Code is left as written (renderers escape it anyway):
  fenced and indented blocks, and code spans; a fence's info string has
  its quotes and brackets written as entities, since some renderers
  (JupyterLab's) paste it into a ``class`` attribute. Inside math a ``<`` becomes
  ``\\lt`` instead, which TeX shows the same. An autolink with a safe scheme
  (``<https://…>``) and a link destination in brackets stay links;
- a link, image or definition destination that ``validate_link`` refuses
  (``javascript:``, ``vbscript:``, …) becomes ``#``.
"""

from __future__ import annotations

import re
from html import unescape

from markdown_it.token import Token

from ._config import MD, validate_link

__all__ = ["inert_markdown"]

_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")
_AUTOLINK = re.compile(r"<[A-Za-z][A-Za-z0-9+.\-]{1,31}:[^\s<>\"'`]*>")
_BRACKET_DESTINATION = re.compile(r"(?:\]\(|\]:)[ \t]*$")  # what precedes a ``<…>`` destination
# An inline link or image destination, ``](dest`` or ``](<dest>``, and a reference definition's.
_DESTINATION = re.compile(r"(\]\(\s*)(<[^<>\n]*>|[^\s()<>]+(?:\([^\s()]*\)[^\s()<>]*)*)")
_DEFINITION = re.compile(r"(?m)^( {0,3}\[[^\]\n]+\]:[ \t]*)(<[^<>\n]*>|\S+)")
_CODE_BLOCKS = ("fence", "code_block")
# Some renderers put a fence's info string into class="language-…" unescaped (JupyterLab's does).
_INFO_UNSAFE = re.compile("[<>\"'&]")
_INFO_ENTITIES = {"<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;", "&": "&amp;"}


def inert_markdown(source: str) -> str:
    """``source`` with tags escaped and unsafe destinations replaced; unchanged when it has neither."""
    if "<" in source or "```" in source or "~~~" in source:
        source = _escape_tags(source)
    if "](" in source or "]:" in source:
        source = _DESTINATION.sub(_safe_destination, source)
        source = _DEFINITION.sub(_safe_destination, source)
    return source


def _escape_tags(source: str) -> str:
    lines = source.splitlines(keepends=True)
    keep = [False] * len(lines)  # lines of code blocks: left as written
    for token in MD.parse(source, {}):
        if token.map is None:
            continue
        start, end = token.map[0], min(token.map[1], len(lines))
        if token.type in _CODE_BLOCKS:
            keep[start:end] = [True] * (end - start)
            if token.type == "fence" and _INFO_UNSAFE.search(token.info):
                lines[start] = _quoted_info(lines[start], token.markup)
        elif token.type == "math_block" and "<" in token.content:
            lines[start:end] = _with_math_lt("".join(lines[start:end]), [token.content], end - start)
        elif token.type == "inline":
            maths = [c.content for c in _math_children(token) if "<" in c.content]
            if maths:
                lines[start:end] = _with_math_lt("".join(lines[start:end]), maths, end - start)
    out: list[str] = []
    run: list[str] = []
    for line, kept in zip(lines, keep, strict=True):
        if kept:
            out.append(_escape_outside_code("".join(run)))
            out.append(line)
            run = []
        else:
            run.append(line)
    out.append(_escape_outside_code("".join(run)))
    return "".join(out)


def _quoted_info(line: str, markup: str) -> str:
    """A fence's opening ``line`` with its info string's quotes and brackets written as entities."""
    at = line.find(markup) + len(markup)
    info = _INFO_UNSAFE.sub(lambda m: _INFO_ENTITIES[m.group()], line[at:])
    return line[:at] + info


def _math_children(token: Token) -> list[Token]:
    return [child for child in token.children or [] if child.type.startswith("math_inline")]


def _with_math_lt(segment: str, maths: list[str], count: int) -> list[str]:
    """``segment`` (``count`` lines) with ``<`` in each math text written ``\\lt``; as ``count`` items."""
    for tex in sorted(set(maths), key=len, reverse=True):
        segment = segment.replace(tex, tex.replace("<", r"\lt "))
    return [segment] + [""] * (count - 1)


def _escape_outside_code(text: str) -> str:
    """Escape tag openers in ``text``, skipping code spans, safe autolinks and ``<…>`` destinations."""
    out: list[str] = []
    index = 0
    while index < len(text):
        ch = text[index]
        if ch == "\\":
            out.append(text[index : index + 2])
            index += 2
            continue
        if ch == "`":
            run = len(text) - index - len(text[index:].lstrip("`"))
            close = _code_close(text, index + run, run)
            stop = index + run if close < 0 else close + run
            out.append(text[index:stop])
            index = stop
            continue
        if ch == "<":
            autolink = _AUTOLINK.match(text, index)
            if autolink and validate_link(autolink.group()[1:-1]):
                out.append(autolink.group())
                index = autolink.end()
                continue
            closing = text.find(">", index)
            after_bracket = _BRACKET_DESTINATION.search(text[max(0, index - 16) : index])
            if after_bracket and closing > 0 and "\n" not in text[index:closing]:
                out.append(text[index : closing + 1])  # a destination: checked by _safe_destination
                index = closing + 1
                continue
            if _TAG_START.match(text, index):
                out.append("&lt;")
                index += 1
                continue
        out.append(ch)
        index += 1
    return "".join(out)


def _code_close(text: str, pos: int, run: int) -> int:
    """Start of the next backtick run of exactly ``run`` from ``pos`` (a code span's end), or -1."""
    while (found := text.find("`" * run, pos)) >= 0:
        length = len(text) - found - len(text[found:].lstrip("`"))
        if length == run:
            return found
        pos = found + length
    return -1


def _safe_destination(match: re.Match[str]) -> str:
    prefix, destination = match.group(1), match.group(2)
    url = destination[1:-1] if destination.startswith("<") else destination
    return match.group(0) if validate_link(unescape(url)) else prefix + "#"
