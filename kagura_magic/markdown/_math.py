"""TeX math for markdown-it: ``$…$``, ``$$…$$``, ``\\(…\\)`` and ``\\[…\\]``.

Our own small rules rather than ``mdit_py_plugins.dollarmath``: that plugin looks
at ``src[pos - 1]`` at the start of an inline run, which wraps around to the *last*
character of the paragraph, so ``$x$ is 5`` is not math while ``$x$ is`` is. A
streaming view would show math that later turns back into dollars. The rules
here only look at the characters around each delimiter.

Currency safety follows pandoc: an opening ``$`` must have a non-space right
after it, a closing ``$`` a non-space right before it and no digit right after
it; and the first ``$`` after an opening one must be its closing one. So
``$5 and $10`` stays text.

Display math may not contain a blank line. That is also what keeps the
streaming engine honest: an unclosed ``$$`` block is a paragraph, and a blank
line ends it for good, so later text can never pull earlier blocks into a
math block.

Math is emitted as text for the frontend's MathJax/KaTeX, inside the TeX
delimiters ``\\(…\\)`` and ``\\[…\\]`` that both typeset by default; the
``mathjax_process``/``tex2jax_process`` classes let a container that ignores
math (``mathjax_ignore``, so a literal ``$5`` is never typeset) opt these in.
"""

from __future__ import annotations

from collections.abc import Sequence

from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.renderer import RendererProtocol
from markdown_it.rules_block import StateBlock
from markdown_it.rules_inline import StateInline
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict

__all__ = ["find_dollar_close", "math_plugin"]

_INLINE_CLASS = "math inline mathjax_process tex2jax_process"
_DISPLAY_CLASS = "math display mathjax_process tex2jax_process"

# Block delimiters: (opening, closing). ``$$`` first so ``\\[`` is tried second.
_BLOCK_DELIMS = (("$$", "$$"), ("\\[", "\\]"))


def find_dollar_close(src: str, start: int, end: int | None = None) -> int:
    """Return the index of the ``$`` closing a ``$`` opened at ``start - 1``, or -1.

    ``src[start - 1]`` is the opening ``$``. The first unescaped ``$`` after it
    must close it, or there is no math: that is what keeps ``$5 and $10 and
    $x$`` from becoming one formula. Shared with the healer, so that both agree
    on what is math.
    """
    stop = len(src) if end is None else end
    if start >= stop or src[start].isspace() or src[start] == "$":
        return -1
    pos = start
    while pos < stop:
        ch = src[pos]
        if ch == "\\":
            pos += 2
            continue
        if ch == "$":
            before = src[pos - 1]
            after = src[pos + 1] if pos + 1 < stop else ""
            if before.isspace() or after.isdigit() or after == "$":
                return -1
            return pos
        pos += 1
    return -1


def _inline_math(state: StateInline, silent: bool) -> bool:
    """Inline ``$…$``, ``$$…$$``, ``\\(…\\)`` and ``\\[…\\]``.

    Runs before ``escape`` so that ``\\(`` is seen before it becomes ``(``.
    """
    src, pos, maximum = state.src, state.pos, state.posMax
    ch = src[pos]
    if ch == "\\":
        if pos + 1 >= maximum or src[pos + 1] not in "([":
            return False
        close = "\\)" if src[pos + 1] == "(" else "\\]"
        end = src.find(close, pos + 2, maximum)
        if end < 0 or not src[pos + 2 : end].strip():
            return False
        content, display, after = src[pos + 2 : end], src[pos + 1] == "[", end + 2
    elif ch == "$":
        if src.startswith("$$", pos):
            end = src.find("$$", pos + 2, maximum)
            if end < 0 or not src[pos + 2 : end].strip():
                return False
            content, display, after = src[pos + 2 : end], True, end + 2
        else:
            end = find_dollar_close(src, pos + 1, maximum)
            if end < 0:
                return False
            content, display, after = src[pos + 1 : end], False, end + 1
    else:
        return False
    if not silent:
        token = state.push("math_inline_display" if display else "math_inline", "math", 0)
        token.content = content
    state.pos = after
    return True


def _block_math(state: StateBlock, start_line: int, end_line: int, silent: bool) -> bool:
    """``$$`` or ``\\[`` opening a line, closed by a line ending in ``$$`` / ``\\]``.

    Unclosed, or interrupted by a blank line, it is not math (the text stays a
    paragraph), so the result never depends on text after a blank line.
    """
    if state.is_code_block(start_line):
        return False
    begin = state.bMarks[start_line] + state.tShift[start_line]
    line_end = state.eMarks[start_line]
    first = state.src[begin:line_end]
    delims = next((pair for pair in _BLOCK_DELIMS if first.startswith(pair[0])), None)
    if delims is None:
        return False
    opening, closing = delims
    rest = first[len(opening) :].rstrip()
    if closing in rest:
        # One line, ``$$ x $$``: only if its first closer ends the line; otherwise
        # (``$$a$$ and $$b$$``) it is inline text.
        if rest.index(closing) != len(rest) - len(closing) or not rest[: -len(closing)].strip():
            return False
        content, last = rest[: -len(closing)], start_line
    else:
        parts = [rest]
        last = start_line + 1
        while True:
            if last >= end_line:
                return False
            lb = state.bMarks[last] + state.tShift[last]
            le = state.eMarks[last]
            if lb >= le or state.sCount[last] < state.blkIndent:
                return False
            text = state.src[lb:le].rstrip()
            if text.endswith(closing):
                parts.append(text[: -len(closing)])
                break
            parts.append(text)
            last += 1
        content = "\n".join(parts)
    if not content.strip():
        return False
    if silent:
        return True
    state.line = last + 1
    token = state.push("math_block", "math", 0)
    token.block = True
    token.content = content.strip("\n")
    token.markup = opening
    token.map = [start_line, state.line]
    return True


def _render_inline(
    self: RendererProtocol,
    tokens: Sequence[Token],
    idx: int,
    options: OptionsDict,
    env: EnvType,
) -> str:
    return f'<span class="{_INLINE_CLASS}">\\({escapeHtml(tokens[idx].content)}\\)</span>'


def _render_inline_display(
    self: RendererProtocol,
    tokens: Sequence[Token],
    idx: int,
    options: OptionsDict,
    env: EnvType,
) -> str:
    # A <div> inside <p> would be split by the browser's parser; a block-styled span is not.
    return f'<span class="{_DISPLAY_CLASS}">\\[{escapeHtml(tokens[idx].content)}\\]</span>'


def _render_block(
    self: RendererProtocol,
    tokens: Sequence[Token],
    idx: int,
    options: OptionsDict,
    env: EnvType,
) -> str:
    return f'<div class="{_DISPLAY_CLASS}">\\[{escapeHtml(tokens[idx].content)}\\]</div>\n'


def math_plugin(md: MarkdownIt) -> None:
    """Register the math rules and their renderers on ``md``."""
    md.inline.ruler.before("escape", "math_inline", _inline_math)
    md.block.ruler.before(
        "fence",
        "math_block",
        _block_math,
        {"alt": ["paragraph", "reference", "blockquote", "list"]},
    )
    md.add_render_rule("math_inline", _render_inline)
    md.add_render_rule("math_inline_display", _render_inline_display)
    md.add_render_rule("math_block", _render_block)
