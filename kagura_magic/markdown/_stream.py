"""``MarkdownStream``: render a growing text, each finished block once.

The normalised text is cut at lines where top-level blocks start, into

- **committed** blocks: later text can no longer change them; rendered once
  and appended to ``committed_html``;
- **held** blocks: finished, but waiting for a definition (below); shown as
  part of the tail;
- the **open** block (plus a partial last line): healed (``_heal``) and
  re-rendered lazily when someone looks (``snapshot``/``tail_html``), cached
  until new text arrives. ``feed`` itself only appends, and when a line
  completes, block-parses the open text to find blocks it finished.

When is a block finished? markdown-it parses blocks top-down, and a block's
extent depends only on the lines up to the one that ends it. So once the
*complete* lines (a partial last line may still change what it is) show another
top-level block after it, it is final: list looseness, setext underlines, lazy
continuations, table rows and fences are all decided inside the block. ``$$``
math is the exception: unclosed, it is a paragraph, and a line in it such as
``+ 2ab`` starts a list that seems to end that paragraph; so a paragraph with an
opener that a later line may still close is not finished (no blank lines are
allowed inside math, so the first one decides). Parsing again from the start of the next block
gives the same tokens, and markdown-it renders block by block, so the HTML of
the parts joins to the HTML of the whole.

What is *not* decided inside a block is a link reference (``[x][ref]`` before
``[ref]: …``) or a footnote reference before its definition. Each block is
parsed with an env that records labels looked up in vain; such a block is held
(with everything after it, commits being in order) until a later block defines
the label. Committing costs no re-parsing: new blocks are checked one at a
time, and held ones are committed only when a definition they wait for arrives.
Shown, held blocks are rendered again with the open block on each snapshot, so
a definition at the very end (which starts no block) shows at once. To keep
bytes on the wire and that work linear when a definition never comes, a long
held run is committed anyway (``HOLD_LIMIT``, much shorter for a bare ``[word]``), and
``finish`` falls back to one full render if a missed label is defined after all.

Footnote definitions are rendered at the very end of the document, so
committed ones are kept (as tokens) in the env and rendered with the tail.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from markdown_it.common.utils import normalizeReference
from markdown_it.token import Token

from ._config import (
    MD,
    Mode,
    env_duplicate_footnote,
    env_misses,
    fork_env,
    new_env,
    render,
)
from ._heal import block_tokens, heal, open_display_math

__all__ = ["HOLD_LIMIT", "SHORTCUT_HOLD_LIMIT", "MarkdownStream"]

HOLD_LIMIT = 8192
"""Characters of finished blocks held for an expected definition before giving up on it."""
SHORTCUT_HOLD_LIMIT = 1024
"""The same for a bare ``[word]``, which is more often text than a reference."""

_FOOTNOTE_REFERENCE = re.compile(r"\[\^([^\]\s]+)\]")
# ``[text][label]`` as a link is written after a space or punctuation; ``dp[i][j]``
# or ``a[0][1]`` (right after a word or a bracket) indexes and is text.
_REFERENCE_USE = re.compile(r"(?<![\w\])])\[((?:[^\[\]\\]|\\.)*)\]\[((?:[^\[\]\\]|\\.)*)\]")
_PENDING_TARGET = {"href": "#", "title": ""}


def _block_texts(src: str, next_char: str = "") -> list[str]:
    """Split the complete lines ``src`` into the top-level blocks that are finished.

    A block is finished once the next one has started, or once blank lines
    follow it and it is a kind a blank line ends. A list, an indented code
    block or a footnote definition may go on after a blank line (an indented
    or a new item line), so they are finished only when ``next_char``, the
    first character of the line being typed, is one that cannot continue them.
    An open fence is never finished. Blank lines and link reference
    definitions (which make no tokens) stay with the block before them.
    """
    blocks: dict[int, Token] = {}
    for token in block_tokens(src):
        if token.level == 0 and token.nesting >= 0 and token.map:
            blocks.setdefault(token.map[0], token)
    if not blocks:
        return []
    starts = sorted(blocks)
    offsets = [0, *(match.end() for match in re.finditer("\n", src))]
    bounds = [0, *(offsets[line] for line in starts[1:])]
    open_math = open_display_math(src)
    if open_math is not None:  # its paragraph and all after it may still become one math block
        return [src[a:b] for a, b in itertools.pairwise(bounds[: starts.index(open_math[0]) + 1])]
    last = blocks[starts[-1]]
    assert last.map is not None
    # (a list's map takes in the blank lines after it, so look at the text too)
    last_line_blank = len(offsets) > 1 and not src[offsets[-2] :].strip()
    blank_after = last_line_blank and not src[offsets[min(last.map[1], len(offsets) - 1)] :].strip()
    ended = _ended_by_blank_line(last) or (
        last.type in _CONTINUES_AFTER_BLANK and next_char and next_char not in _MAY_CONTINUE
    )
    if blank_after and ended:
        bounds.append(len(src))
    return [src[a:b] for a, b in itertools.pairwise(bounds)]


# What may start a line that continues a list, indented code or a footnote after
# a blank line: indentation, or another item of the same list.
_MAY_CONTINUE = frozenset(" \t-+*0123456789")
_CONTINUES_AFTER_BLANK = {
    "bullet_list_open",
    "ordered_list_open",
    "code_block",
    "footnote_reference_open",
}


def _ended_by_blank_line(token: Token) -> bool:
    """Whether a blank line after this top-level block ends it for good."""
    if token.type in _CONTINUES_AFTER_BLANK:
        return False
    if token.type == "fence":
        assert token.map is not None
        return token.content.count("\n") != token.map[1] - token.map[0] - 1  # closed
    return True


def _assume_pending_definitions(src: str, env: dict[str, Any]) -> None:
    """Let ``[text][label]`` and ``[^label]`` show as what they will most likely be.

    While streaming, a reference may come before its definition. Shown as
    literal brackets it would change into a link later, so a snapshot treats
    full references and footnote references as defined (a footnote with no
    definition yet gets no entry in the footnotes section).
    """
    references = env["references"]
    used = {normalizeReference(match.group(2) or match.group(1)) for match in _REFERENCE_USE.finditer(src)}
    missing = {label for label in used if label and not dict.__contains__(references, label)}
    if missing:  # a definition later in ``src`` itself must win over the placeholder
        scratch: dict[str, Any] = {}
        MD.block.parse(src, MD, scratch, [])
        missing -= set(scratch.get("references", ()))
    for label in missing:
        dict.__setitem__(references, label, dict(_PENDING_TARGET))
    refs = env["footnotes"]["refs"]
    for match in _FOOTNOTE_REFERENCE.finditer(src):
        key = ":" + match.group(1)
        if not dict.__contains__(refs, key):
            dict.__setitem__(refs, key, -1)


@dataclass
class _Held:
    """A finished block that cannot be committed yet, and why."""

    source: str
    misses: set[str]  # labels it looked up in vain (after the blocks before it)
    defines: set[str]  # labels it defines
    significant: bool  # a miss beyond a bare ``[shortcut]``: a definition is expected


def _labels(env: dict[str, Any]) -> set[str]:
    """Link labels and footnote labels (with ':') defined in ``env``."""
    return set(env["references"]) | set(env["footnotes"]["refs"])


def _expected(source: str, misses: set[str]) -> bool:
    """Whether a miss is one an author means to define: ``[x][ref]``, ``[x][]`` or ``[^n]``.

    A bare ``[word]`` is as often plain text (``arr[i]``, ``[1]``) and is held
    only briefly (``SHORTCUT_HOLD_LIMIT``).
    """
    if any(label.startswith(":") for label in misses):
        return True
    used = set()
    for match in _REFERENCE_USE.finditer(source):
        used.add(normalizeReference(match.group(2) or match.group(1)))
    return bool(used & misses)


class MarkdownStream:
    """A Markdown text that grows by ``feed``; see the module docstring."""

    def __init__(self, *, remote_images: bool = False) -> None:
        self.remote_images = remote_images  # as ``render``'s: show images from other sites
        self._chunks: list[str] = []
        self._pending_cr = False  # a "\r" that may be the first half of "\r\n"
        self._tail = ""  # normalised text after the committed and held blocks
        self._env: dict[str, Any] = new_env(remote_images=remote_images)  # after the committed blocks
        self._parts: list[str] = []
        self._sources: list[str] = []
        self._joined: tuple[int, str, str] = (0, "", "")  # (len(parts), html, source)
        self._forced: set[str] = set()  # labels missing from blocks committed anyway
        self._reset_held()
        self._healed: str | None = None
        self._tail_html: str | None = None

    def _reset_held(self) -> None:
        self._held: list[_Held] = []
        self._check_env = self._env  # parser state after the held blocks, as they are
        self._held_source = ""

    # -- input -----------------------------------------------------------------

    def feed(self, chunk: str) -> None:
        """Append ``chunk`` (any size, split anywhere) and commit blocks it finishes."""
        if not chunk:
            return
        self._chunks.append(chunk)
        text = self._normalise(chunk)
        if not text:
            return
        line_start = not self._tail or self._tail.endswith("\n")
        self._tail += text
        self._healed = self._tail_html = None
        if "\n" in text or line_start:
            self._take_finished_blocks()

    def _take_finished_blocks(self) -> None:
        """Move blocks the complete lines (and the next line's first character) finish."""
        newline = self._tail.rfind("\n") + 1
        next_char = self._tail[newline : newline + 1]
        for piece in _block_texts(self._tail[:newline], next_char):
            self._tail = self._tail[len(piece) :]
            self._take_finished(piece)

    def _normalise(self, chunk: str) -> str:
        """Line endings to "\\n" and NUL to U+FFFD, as markdown-it's first rule does.

        A trailing "\\r" waits for the next chunk: it may be half of "\\r\\n".
        """
        if self._pending_cr:
            chunk = "\r" + chunk
        self._pending_cr = chunk.endswith("\r")
        if self._pending_cr:
            chunk = chunk[:-1]
        return chunk.replace("\r\n", "\n").replace("\r", "\n").replace("\0", "\ufffd")

    # -- committing ----------------------------------------------------------------

    def _take_finished(self, piece: str) -> None:
        """Commit a finished block, or hold it (and what follows) for a definition."""
        before = self._check_env
        env = fork_env(before, Mode.COMMIT)
        tokens = MD.parse(piece, env)
        misses = env_misses(env)
        if not self._held and not misses:
            self._commit(piece, tokens, env)
            return
        defines = _labels(env) - _labels(before)
        waiting = set().union(*(held.misses for held in self._held))
        self._hold(_Held(piece, misses, defines, _expected(piece, misses)), env)
        if defines & waiting:
            self._release()
        self._enforce_hold_limit()

    def _commit(self, source: str, tokens: list[Token], env: dict[str, Any]) -> None:
        self._parts.append(MD.renderer.render(tokens, MD.options, env))
        self._sources.append(source)
        self._env = self._check_env = env

    def _hold(self, held: _Held, env: dict[str, Any]) -> None:
        """Keep ``held`` in the tail, where it is rendered with the open block."""
        self._held.append(held)
        self._check_env = env
        self._held_source += held.source

    def _release(self) -> None:
        """Commit the longest run of held blocks whose labels are now all defined."""
        first_definition: dict[str, int] = {}
        for index, held in enumerate(self._held):
            for label in held.defines:
                first_definition.setdefault(label, index)
        need, ready = 0, 0
        for index, held in enumerate(self._held):
            for label in held.misses:
                need = max(need, first_definition.get(label, len(self._held)))
            if need <= index:
                ready = index + 1
        if ready:
            self._requeue(ready)

    def _enforce_hold_limit(self) -> None:
        """Commit the first held block anyway once too much waits behind it.

        Work and bytes on the wire stay linear; if its definition does come,
        ``finish`` renders the whole text once instead.
        """
        while self._held:
            limit = HOLD_LIMIT if self._held[0].significant else SHORTCUT_HOLD_LIMIT
            if len(self._held_source) <= limit:
                return
            self._requeue(1)

    def _requeue(self, count: int) -> None:
        """Commit the first ``count`` held blocks and take the rest again.

        Labels still missing (a block committed by the hold limit) are
        remembered: if one is defined later, ``finish`` renders from scratch.
        """
        held = self._held
        source = "".join(block.source for block in held[:count])
        env = fork_env(self._env, Mode.COMMIT)
        tokens = MD.parse(source, env)
        self._forced |= env_misses(env)
        self._reset_held()
        self._commit(source, tokens, env)
        for block in held[count:]:
            self._take_finished(block.source)

    # -- output ------------------------------------------------------------------

    @property
    def text(self) -> str:
        """Everything fed so far, as fed."""
        if len(self._chunks) > 1:
            self._chunks = ["".join(self._chunks)]
        return self._chunks[0] if self._chunks else ""

    def _joined_parts(self) -> tuple[str, str]:
        count, html, source = self._joined
        if count != len(self._parts):
            html += "".join(self._parts[count:])
            source += "".join(self._sources[count:])
            self._joined = (len(self._parts), html, source)
        return html, source

    @property
    def committed_html(self) -> str:
        """HTML of the finished blocks; it only ever grows by appending."""
        return self._joined_parts()[0]

    @property
    def committed_source(self) -> str:
        """Markdown of the finished blocks (normalised line endings); only ever grows."""
        return self._joined_parts()[1]

    @property
    def committed_blocks(self) -> Sequence[str]:
        """The committed HTML pieces in order (one per commit; they join to ``committed_html``)."""
        return tuple(self._parts)

    def healed_tail(self) -> str:
        """The tail as Markdown: held blocks, then the open block with uncertain text
        held back and open markers closed."""
        return self._held_source + self._healed_open()

    def _healed_open(self) -> str:
        if self._healed is None:
            self._healed = heal(self._tail)
        return self._healed

    def tail_html(self) -> str:
        """HTML of the tail (and the footnotes section); cached until new text.

        Held blocks are rendered together with the open block: definitions at the
        end of an answer start no block, so they sit in the open block, and the
        held blocks that use them must show them before ``finish``.
        """
        if self._tail_html is None:
            source = self.healed_tail()
            env = fork_env(self._env, Mode.SNAPSHOT)
            _assume_pending_definitions(source, env)
            self._tail_html = MD.render(source, env)
        return self._tail_html

    def snapshot(self) -> str:
        """What the user sees now: committed HTML plus the healed tail's HTML."""
        return self.committed_html + self.tail_html()

    def finish(self) -> str:
        """The final HTML, equal to ``render(self.text, remote_images=self.remote_images)``."""
        tail = self._held_source + self._tail + ("\n" if self._pending_cr else "")
        env = fork_env(self._env, Mode.RENDER)
        html: str = MD.render(tail, env)
        if env_duplicate_footnote(env) or self._forced & _labels(env):
            return render(self.text, remote_images=self.remote_images)  # a committed block changed
        return self.committed_html + html
