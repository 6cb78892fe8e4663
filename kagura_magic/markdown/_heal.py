"""Healing the open tail of a stream: Markdown that shows now what the end will show.

The tail is the text after the last committed block: the block being written
(and any finished blocks held back for a definition). Healing never rewrites
text; it *holds back* what is still uncertain and *appends* closers:

- block level, by line: a half-typed line that could still become a block
  marker (``-`` may be a list item, a setext underline or a rule; `````py``
  is a fence whose language is still growing; ``| a | b`` may be a table
  header), a paragraph line with ``|`` until the line after it shows it is no
  table header, a display-math opener until its closing line, table rows until
  complete, a half-typed closing fence;
- inline, in the last paragraph or heading: trailing ``\\``, partial entities,
  ``<`` autolinks and delimiter runs are held back; brackets are held until
  ``](`` shows a link (then shown with a placeholder target); unclosed code
  spans, ``**``/``*``/``~~`` are closed; unclosed ``$…$`` math is held. A
  delimiter whose meaning a later character decides is held until it comes
  (``_``, which is as often ``__private_name`` as emphasis; ``*`` next to
  punctuation, which CommonMark's flanking rules make literal in
  ``**「重要」**です``), so nothing shown bold later turns into asterisks.

An unclosed fence needs no closer: markdown-it runs it to the end of its
container, which is exactly what the user should see.
"""

from __future__ import annotations

import re
import string
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from markdown_it.token import Token

from ._config import MD
from ._math import find_dollar_close

__all__ = ["block_tokens", "heal", "heal_inline"]

# Container markers at a line start: blockquote ``>``, list bullets and numbers.
_CONTAINER = re.compile(r"(?:[ \t]*(?:>|[-+*](?=[ \t])|\d{1,9}[.)](?=[ \t])))*[ \t]*")
# A partial line made only of characters that start or form block markers; it
# may still turn into a list item, heading, rule, setext underline, fence, quote.
_MARKER_ONLY = re.compile(r"[ \t>\-+*_=#`~$|:.)\\\[\]^0-9]*")
_FENCE_OPEN = re.compile(r" {0,3}(?:`{3,}|~{3,})")
_DISPLAY_MATH = (("$$", "$$"), ("\\[", "\\]"))  # (opening, closing) lines
_MATH_OPEN = re.compile(r" {0,3}(?:\$\$|\\\[)")
_REF_DEF = re.compile(r" {0,3}\[(?!\^)(?:[^\]\\]|\\.)*\]:")
# What a table's delimiter row can look like while it is typed (including nothing yet).
_DELIMITER_PREFIX = re.compile(r"[ \t>]*\|?[ \t:|\-]*")
_INDENTED = re.compile(r"(?: {4}| {0,3}\t)")
_ATX_HEADING = re.compile(r"#{1,6}(?:[ \t]|$)")
_HEADING_CLOSE = re.compile(r"(?:^|[ \t]+)#+[ \t]*$")

_SPECIAL = re.compile(r"[\\`$&<!\[\]*_~]")
_PARTIAL_ENTITY = re.compile(r"&(?:#[0-9]{0,7}|#[xX][0-9a-fA-F]{0,6}|[A-Za-z][A-Za-z0-9]{0,31})?")
_PARTIAL_AUTOLINK = re.compile(r"<[^\s<>]*")
_AUTOLINK = re.compile(r"<[A-Za-z][A-Za-z0-9+.\-]{1,31}:[^\s<>]*>|<[^\s<>@]+@[^\s<>]+>")
_MATH_PAIRS = {"(": "\\)", "[": "\\]"}
_PLACEHOLDER_TARGET = "(#)"


# -- block level -------------------------------------------------------------------


@lru_cache(maxsize=4)
def block_tokens(src: str) -> list[Token]:
    """markdown-it's block tokens for ``src`` (no inline pass, a throwaway env).

    Cached: a commit check and the next snapshots look at the same complete
    lines. Callers must not change the list.
    """
    tokens: list[Token] = []
    if src:
        MD.block.parse(src, MD, {}, tokens)
    return tokens


@dataclass(frozen=True)
class Leaf:
    """The last leaf block of the complete lines and where it stands."""

    kind: str  # paragraph, heading, table, fence, open_fence, code, other, none
    start: int  # its first line
    reaches_end: bool  # whether it runs to the last complete line


_NO_LEAF = Leaf("none", 0, False)


def _last_leaf(tokens: list[Token], n_lines: int) -> Leaf:
    """Find the leaf block holding the last complete line (or the last one before it)."""
    for idx in range(len(tokens) - 1, -1, -1):
        token = tokens[idx]
        if token.map is None or token.nesting != 0:
            continue
        start, end = token.map
        if token.type == "inline":
            parent = tokens[idx - 1].type if idx else ""
            if parent in ("th_open", "td_open"):
                table = next(t for t in reversed(tokens[:idx]) if t.type == "table_open")
                assert table.map is not None
                return Leaf("table", table.map[0], table.map[1] >= n_lines)
            kind = "heading" if parent == "heading_open" else "paragraph"
            return Leaf(kind, start, end >= n_lines)
        if token.type == "fence":
            is_open = token.content.count("\n") == end - start - 1
            return Leaf("open_fence" if is_open else "fence", start, end >= n_lines)
        kind = "code" if token.type == "code_block" else "other"
        return Leaf(kind, start, end >= n_lines)
    return _NO_LEAF


def _hold_partial_line(line: str, leaf: Leaf) -> bool:
    """Whether the unfinished last line must wait for its newline."""
    if leaf.kind == "table" and leaf.reaches_end:
        return True  # a row is shown whole or not at all
    if _MARKER_ONLY.fullmatch(line) or "|" in line:
        return True
    body = line[_CONTAINER.match(line).end() :]  # type: ignore[union-attr]
    return bool(_FENCE_OPEN.match(body) or _MATH_OPEN.match(body) or _REF_DEF.match(body))


def _open_math_line(lines: list[str], first: int) -> int | None:
    """The first line from ``first`` on that opens display math never closed.

    A closed ``$$``/``\\[`` block would have been parsed as math, so inside a
    paragraph such a line is math still being written.
    """
    for index in range(first, len(lines)):
        body = lines[index][_CONTAINER.match(lines[index]).end() :]  # type: ignore[union-attr]
        for opening, closing in _DISPLAY_MATH:
            if body.startswith(opening) and closing not in body[len(opening) :]:
                return index
    return None


def open_display_math(complete: str) -> tuple[int, int] | None:
    """``(first line of its paragraph, its line)`` for the first ``$$``/``\\[`` line
    at the top level of ``complete`` (whole lines) that a later line may still close.

    Unclosed, such a line is a paragraph's, and lines after it may parse as
    other blocks (``+ 2ab`` a list): all of it may yet become one math block.
    A blank line or a closing line after it decides it.
    """
    if "$$" not in complete and "\\[" not in complete:
        return None  # the common case, at the cost of a substring search
    lines = complete.split("\n")[:-1]
    for token in block_tokens(complete):
        if token.level != 0 or token.type != "paragraph_open" or token.map is None:
            continue
        for index in range(token.map[0], token.map[1]):
            body = lines[index].lstrip(" ")
            if len(lines[index]) - len(body) > 3:
                continue
            for opening, closing in _DISPLAY_MATH:
                if not body.startswith(opening) or closing in body[len(opening) :]:
                    continue
                later = lines[index + 1 :]
                if not any(not line.strip() or line.rstrip().endswith(closing) for line in later):
                    return token.map[0], index
    return None


def _line_offsets(src: str) -> list[int]:
    """Offsets of the starts of the lines of ``src``."""
    return [0, *(match.end() for match in re.finditer("\n", src))]


def heal(src: str) -> str:
    """The open tail ``src`` as Markdown that is safe to show now (see module doc)."""
    if not src:
        return ""
    newline = src.rfind("\n") + 1
    partial = src[newline:]
    complete = src[:newline]
    offsets = _line_offsets(complete)
    n_lines = len(offsets) - 1
    leaf = _last_leaf(block_tokens(complete), n_lines) if complete else _NO_LEAF
    opened = open_display_math(complete)
    if opened is not None:  # hidden from its line on until it is decided
        paragraph, line = offsets[opened[0]], offsets[opened[1]]
        return src[:paragraph] + heal_inline(src[paragraph:line]) if paragraph < line else src[:line]

    if leaf.kind == "open_fence" and leaf.reaches_end:
        body = partial[_CONTAINER.match(partial).end() :]  # type: ignore[union-attr]
        closing_fence_so_far = body and set(body.rstrip()) <= {"`", "~"}
        return complete if closing_fence_so_far else src
    if leaf.kind == "code" and leaf.reaches_end and _INDENTED.match(partial):
        return src  # a line of indented code: shown as typed

    cut = len(src)
    if partial and _hold_partial_line(partial, leaf):
        cut = newline
    in_paragraph = leaf.kind == "paragraph" and leaf.reaches_end
    if in_paragraph:
        lines = complete.split("\n")[:-1]
        math_line = _open_math_line(lines, leaf.start)
        if math_line is not None:
            cut = offsets[math_line]
        elif "|" in lines[-1] and (cut == newline or _DELIMITER_PREFIX.fullmatch(partial)):
            cut = offsets[n_lines - 1]  # a table header until its delimiter row is complete

    base = src[:cut]
    if in_paragraph and offsets[leaf.start] < cut:
        region_start = offsets[leaf.start]  # emphasis may have opened lines ago
    elif cut == len(src) and partial:
        region_start = newline  # the partial line starts a new block
    else:
        return base  # it ends with finished blocks
    return base[:region_start] + heal_inline(base[region_start:])


# -- inline level ------------------------------------------------------------------


def _is_space(ch: str) -> bool:
    return not ch or ch.isspace()


def _is_punct(ch: str) -> bool:
    return bool(ch) and (ch in string.punctuation or unicodedata.category(ch)[0] in ("P", "S"))


def _is_wide(ch: str) -> bool:
    """A letter of a script written without spaces between words (CJK)."""
    return unicodedata.east_asian_width(ch) in ("W", "F") and unicodedata.category(ch)[0] == "L"


@dataclass
class _Opener:
    kind: str  # "*", "_", "~", "[" or "!["
    pos: int
    length: int
    intraword: bool = False  # ``a*b``: as likely a literal star as an opener
    inner_punct: bool = False  # ``**「``: its closer will sit after punctuation too
    literal: bool = False  # its likely closer failed: shown as typed unless really closed


# How far past an uncertain opener (``_``, or ``*`` before punctuation) text is
# held before the opener is decided without its closer.
EMPHASIS_HOLD_LIMIT = 80


def _run_length(text: str, pos: int, ch: str) -> int:
    end = pos
    while end < len(text) and text[end] == ch:
        end += 1
    return end - pos


def _find_code_close(text: str, pos: int, run: int) -> int:
    """Start of a backtick run of exactly ``run`` at or after ``pos``, or -1."""
    while True:
        found = text.find("`" * run, pos)
        if found < 0:
            return -1
        length = _run_length(text, found, "`")
        if length == run:
            return found
        pos = found + length


def _link_destination_end(text: str, pos: int) -> int:
    """Index after the ``)`` closing the destination opened at ``text[pos] == '('``, or -1."""
    depth = 0
    quote = ""
    index = pos
    while index < len(text):
        ch = text[index]
        if ch == "\\":
            index += 2
            continue
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'" and index > pos + 1 and text[index - 1].isspace():
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return index + 1
        index += 1
    return -1


def _last_bracket(stack: list[_Opener]) -> int | None:
    for index in range(len(stack) - 1, -1, -1):
        if stack[index].kind in ("[", "!["):
            return index
    return None


def _awaited_opener(stack: list[_Opener], kind: str) -> int | None:
    """Index of the nearest ``kind`` opener still awaiting its closer, not past a bracket."""
    for pos in range(len(stack) - 1, -1, -1):
        if stack[pos].kind in ("[", "!["):
            return None
        if stack[pos].kind == kind and not stack[pos].literal:
            return pos
    return None


def _close_emphasis(stack: list[_Opener], kind: str, run: int) -> int:
    """Match a closing run against openers (not across a bracket); return what is left."""
    while run:
        index = None
        for pos in range(len(stack) - 1, -1, -1):
            if stack[pos].kind in ("[", "!["):
                break
            if stack[pos].kind == kind:
                index = pos
                break
        if index is None:
            return run
        opener = stack[index]
        del stack[index + 1 :]  # openers inside stay literal
        used = min(opener.length, run)
        opener.length -= used
        run -= used
        if not opener.length:
            stack.pop()
    return 0


class _Scan:
    """One left-to-right pass over a paragraph's source, CommonMark-ish.

    Result: ``cut`` (keep ``text[:cut]``), ``suffix`` (a code span closer or a
    placeholder link target) and ``stack`` (openers still open before ``cut``).
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.cut = len(text)
        self.suffix = ""
        self.stack: list[_Opener] = []
        self._run()
        bracket = next((o.pos for o in self.stack if o.kind in ("[", "![")), None)
        if bracket is not None and bracket < self.cut:
            self.cut, self.suffix = bracket, ""  # no ``](`` yet: may be a link, may be text
        self.stack = [o for o in self.stack if o.pos < self.cut and o.kind in "*_~"]

    def _stop(self, cut: int, suffix: str = "") -> int:
        self.cut, self.suffix = cut, suffix
        return len(self.text)

    def _run(self) -> None:
        text = self.text
        pos = 0
        while True:
            match = _SPECIAL.search(text, pos)
            if match is None:
                return
            pos = self._step(match.start())
            if pos >= len(text):
                return

    def _step(self, pos: int) -> int:
        """Handle the special character at ``pos``; return where to continue."""
        text = self.text
        ch = text[pos]
        if ch == "\\":
            return self._escape(pos)
        if ch == "`":
            return self._code(pos)
        if ch == "$":
            return self._dollar(pos)
        if ch == "&":
            return self._stop(pos) if _PARTIAL_ENTITY.fullmatch(text, pos) else pos + 1
        if ch == "<":
            if _PARTIAL_AUTOLINK.fullmatch(text, pos):
                return self._stop(pos)
            autolink = _AUTOLINK.match(text, pos)
            return autolink.end() if autolink else pos + 1
        if ch == "!":
            if pos + 1 == len(text):
                return self._stop(pos)  # may be the start of an image
            if text.startswith("![", pos):
                self.stack.append(_Opener("![", pos, 2))
                return pos + 2
            return pos + 1
        if ch == "[":
            self.stack.append(_Opener("[", pos, 1))
            return pos + 1
        if ch == "]":
            return self._bracket_close(pos)
        return self._delimiters(pos)

    def _escape(self, pos: int) -> int:
        text = self.text
        if not text[pos + 1 :].strip():
            return self._stop(pos)  # a trailing backslash escapes (or breaks) what comes next
        closing = _MATH_PAIRS.get(text[pos + 1])
        if closing is not None:
            end = text.find(closing, pos + 2)
            return self._stop(pos) if end < 0 else end + 2
        return pos + 2

    def _code(self, pos: int) -> int:
        text = self.text
        run = _run_length(text, pos, "`")
        if pos + run == len(text):
            return self._stop(pos)  # the run may still grow
        end = _find_code_close(text, pos + run, run)
        if end < 0:
            # Open to the end. A backtick run ending the text may be its closer
            # still arriving, so it is held back.
            return self._stop(len(text.rstrip("`")), "`" * run)
        return end + run

    def _dollar(self, pos: int) -> int:
        text = self.text
        if text.startswith("$$", pos):
            end = text.find("$$", pos + 2)
            return self._stop(pos) if end < 0 else end + 2
        if pos + 1 == len(text):
            return self._stop(pos)
        end = find_dollar_close(text, pos + 1)
        if end == len(text) - 1:
            return self._stop(pos)  # a digit next would make that "$" no closer: "$5 and $6"
        if end >= 0:
            return end + 1
        after = text[pos + 1]
        if after.isdigit() and _number_reaches_end(text, pos + 1):
            # "$10" is a price, or the start of "$10^5$": wait for what follows the number.
            return self._stop(pos)
        could_open = not after.isspace() and not after.isdigit() and "$" not in text[pos + 1 :]
        return self._stop(pos) if could_open else pos + 1

    def _bracket_close(self, pos: int) -> int:
        text = self.text
        index = _last_bracket(self.stack)
        if index is None:
            return pos + 1
        opener = self.stack[index]
        after = pos + 1
        if after == len(text):
            return self._stop(opener.pos)  # `[x]` may become `[x](…)`: wait one character
        if text[after] in "([":
            if text[after] == "(":
                end = _link_destination_end(text, after)
            else:
                close = text.find("]", after + 1)
                end = close + 1 if close >= 0 else -1
            if end < 0:
                if opener.kind == "![":
                    return self._stop(opener.pos)  # an image shows nothing until complete
                del self.stack[index:]
                return self._stop(after, _PLACEHOLDER_TARGET)
            del self.stack[index:]
            return end
        del self.stack[index]
        return after

    def _delimiters(self, pos: int) -> int:
        text = self.text
        ch = text[pos]
        run = _run_length(text, pos, ch)
        end = pos + run
        at_end = end == len(text)
        if ch == "~" and run != 2:
            return self._stop(pos) if at_end and run == 1 else end
        prev = text[pos - 1] if pos else ""
        nxt = text[end] if not at_end else ""
        left = not _is_space(nxt) and (not _is_punct(nxt) or _is_space(prev) or _is_punct(prev))
        right = not _is_space(prev) and (not _is_punct(prev) or _is_space(nxt) or _is_punct(nxt))
        if ch == "_":
            can_open = left and (not right or _is_punct(prev))
            can_close = right and (not left or _is_punct(nxt))
        else:
            can_open, can_close = left, right
        if at_end:
            # Trailing: a closer only if it closes something; else it may open or grow.
            # After punctuation (and for ``_`` always) the next character decides
            # whether it closes at all: ``」**`` closes before ``。`` but not before ``で``.
            certain = ch != "_" and not _is_punct(prev)
            if certain and can_close and _close_emphasis(self.stack, ch, run) < run:
                return end
            return self._stop(pos)
        literal = False
        if left and not right and _is_punct(prev):
            # Shaped as a closer that failed (``」**で``, ``.**t``): markdown-it takes
            # it for an opener, but it most likely meant to close the one before it,
            # so neither is closed by us; a real closer later still matches them.
            index = _awaited_opener(self.stack, ch)
            if index is not None:
                self.stack[index].literal = literal = True
            else:  # ``）**内``: after a closing bracket, no opener either
                literal = unicodedata.category(prev) in ("Pe", "Pf")
        left_over = _close_emphasis(self.stack, ch, run) if can_close else run
        if left_over and can_open:
            # Between CJK letters there are no spaces, so ``次に**注意**`` is not intraword.
            intraword = left and right and not (_is_wide(prev) or _is_wide(nxt))
            opener = _Opener(ch, pos, left_over, intraword=intraword, inner_punct=_is_punct(nxt))
            opener.literal = literal
            self.stack.append(opener)
        return end


def _closers(stack: list[_Opener]) -> str:
    return "".join(opener.kind * opener.length for opener in reversed(stack))


def _fate(opener: _Opener, cut: int) -> str:
    """What an opener still open at the end shows as: ``close``d now, ``hold``, or ``literal``.

    ``**`` before a letter is closed at once, as chat UIs do. An intraword one
    (``a*b``), or one whose likely closer failed (``**bold.**text``), stays
    literal. ``_`` (``__private_name``) and ``*`` before punctuation
    (``**「重要」**です`` stays literal) are as likely literal as emphasis,
    so they are held until their closer decides, for at most
    ``EMPHASIS_HOLD_LIMIT`` characters; then ``_`` shows as typed and ``*``
    as emphasis, the likelier ends of each.
    """
    if opener.intraword or opener.literal:
        return "literal"
    if opener.kind != "_" and not opener.inner_punct:
        return "close"
    if cut - opener.pos <= EMPHASIS_HOLD_LIMIT:
        return "hold"
    return "literal" if opener.kind == "_" else "close"


def heal_inline(text: str) -> str:
    """Heal the source of the last paragraph or heading (``text`` runs to the end)."""
    lines_start = text.rfind("\n") + 1
    last = text[lines_start:]
    body = last[_CONTAINER.match(last).end() :]  # type: ignore[union-attr]
    if _ATX_HEADING.match(body):
        closing = _HEADING_CLOSE.search(last)
        if closing is not None and closing.start() > len(last) - len(body):
            text = text[: lines_start + closing.start()]
    scan = _Scan(text)
    cut, suffix = scan.cut, scan.suffix
    stack: list[_Opener] = []
    for opener in scan.stack:
        fate = _fate(opener, cut)
        if fate == "hold":
            cut, suffix = opener.pos, ""
            break
        if fate == "close":
            stack.append(opener)
    keep = text[:cut]
    if not stack:
        return keep + suffix
    if not suffix:
        keep = keep.rstrip()  # a closer right after a space would not close
        while stack and stack[-1].pos + stack[-1].length >= len(keep):
            keep = keep[: stack.pop().pos].rstrip()
        if not stack:
            return keep
    healed = keep + suffix + _closers(stack)
    if MD.renderInline(healed, {}).rstrip()[-1:] in ("*", "_", "~"):
        # Our closers did not close (a flanking rule we do not model):
        # hold the emphasis back instead of showing raw markers.
        return text[: stack[0].pos].rstrip()
    return healed


_NUMBER_OR_MATH = frozenset("0123456789.,^_{}\\")


def _number_reaches_end(text: str, start: int) -> bool:
    """Whether the text from ``start`` to its end is a number, or a formula that began as one.

    After a "$", "10" may be a price ("$10 a month") or the start of math ("$10^5$",
    "$0.667$"): shown literally now, it would be typeset a moment later. Held back while
    nothing else has come, it shows once the next character decides (one token later).
    """
    return all(ch in _NUMBER_OR_MATH for ch in text[start:])
