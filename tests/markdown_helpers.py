"""What the ``test_markdown_*`` files share: HTML inspection, random splits, the invariant checker.

``stream_check`` checks the stream's invariants (DESIGN.md) on every frame:
1. ``finish() == render(text)`` for any split; 2. ``committed_html`` only
grows, and is a prefix of the final HTML; 3. every snapshot is balanced HTML
whose visible text is a prefix of the final visible text. ``assert_safe``
checks 5: nothing in the HTML can run script.
"""

from __future__ import annotations

import json
import random
import re
import unicodedata
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

from kagura_magic.markdown import MarkdownStream, render

CASES: list[str] = json.loads(
    (Path(__file__).parent / "markdown_cases" / "commonmark_cases.json").read_text("utf-8")
)
VOID = {"br", "hr", "img", "input", "meta", "link", "area", "base", "col", "embed", "source", "wbr"}


# -- HTML inspection ---------------------------------------------------------------------


class _Inspect(HTMLParser):
    """Collects visible text, checks nesting, and records every tag with its attributes.

    A footnote's back-link is a mark, not text: while its note grows it sits at
    the growing end, as a cursor would, so it is left out of the text.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self._mark_depth: int | None = None  # stack depth of an open back-link

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))
        if tag == "a" and ("class", "footnote-backref") in attrs and self._mark_depth is None:
            self._mark_depth = len(self.stack)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:]}")
        else:
            self.stack.pop()
            if self._mark_depth == len(self.stack):
                self._mark_depth = None

    def handle_data(self, data: str) -> None:
        if self._mark_depth is None:
            self.text.append(data)


def inspect(html: str) -> _Inspect:
    parser = _Inspect()
    parser.feed(html)
    parser.close()
    return parser


def collapse(text: str) -> str:
    return " ".join(text.split())


def visible(html: str) -> str:
    """Text a reader sees: tags stripped, entities decoded, whitespace collapsed."""
    return collapse("".join(inspect(html).text))


def assert_balanced(html: str) -> None:
    parser = inspect(html)
    assert not parser.errors and not parser.stack, (parser.errors, parser.stack, html)


# -- safety ------------------------------------------------------------------------------

_BANNED_TAGS = {"script", "iframe", "object", "embed", "svg", "math", "style", "frame", "base"}
_BANNED_URL = re.compile(r"(?:javascript|vbscript|livescript|file|data:(?!image/(?:png|gif|jpeg|webp)))")


def assert_safe(html: str) -> None:
    assert "<script" not in html.lower()
    for tag, attrs in inspect(html).tags:
        assert tag not in _BANNED_TAGS, html
        for name, value in attrs:
            assert not name.startswith("on"), html
            assert name != "srcdoc", html
            if name == "style":
                assert re.fullmatch(r"text-align:(left|right|center)", value or ""), html
            if name in ("href", "src", "action", "formaction", "xlink:href") and value:
                url = unicodedata.normalize("NFKC", unquote(value))
                url = "".join(ch for ch in url if ch.isprintable() and not ch.isspace()).lower()
                assert not _BANNED_URL.match(url), html
                if tag == "a":
                    assert not url.startswith("data:"), html


# -- streaming harness -----------------------------------------------------------------


def chunks_of(text: str, seed: int, largest: int = 9) -> list[str]:
    rnd = random.Random(seed)
    out, pos = [], 0
    while pos < len(text):
        size = rnd.randint(1, largest) if rnd.random() > 0.03 else rnd.randint(1, 200)
        out.append(text[pos : pos + size])
        pos += size
    return out


def stream_check(
    text: str, chunks: list[str], *, frames: bool = True, exact_commits: bool = True
) -> MarkdownStream:
    """Feed ``chunks``; check invariants 1-3 on every frame. Returns the finished stream.

    ``exact_commits=False`` is for texts where a bare ``[word]`` is defined far
    after its use: the stream commits it anyway (see ``SHORTCUT_HOLD_LIMIT``)
    and only ``finish`` is exact.
    """
    final = render(text)
    final_visible = visible(final)
    stream = MarkdownStream()
    committed = ""
    committed_text = ""
    seen_parts = 0
    for chunk in chunks:
        stream.feed(chunk)
        now = stream.committed_html
        assert now.startswith(committed), "committed_html must only grow"
        if exact_commits and not final.startswith(now):
            at = next(i for i, (a, b) in enumerate(zip(now, final, strict=False)) if a != b)
            lo = max(0, at - 80)
            raise AssertionError(f"committed {now[lo : at + 80]!r} vs {final[lo : at + 80]!r}")
        fed = stream.text.replace("\r\n", "\n").replace("\r", "\n").replace("\0", "\ufffd")
        assert fed.startswith(stream.committed_source)
        for part in stream.committed_blocks[seen_parts:]:
            assert_balanced(part)
            committed_text += "".join(inspect(part).text)
        seen_parts = len(stream.committed_blocks)
        committed = now
        if frames:
            tail = stream.tail_html()
            assert_balanced(tail)
            assert stream.snapshot() == now + tail
            shown = collapse(committed_text + "".join(inspect(tail).text))
            assert final_visible.startswith(shown), (
                f"frame not a prefix of the final text\n  fed: {stream.text[-80:]!r}\n"
                f"  healed tail: {stream.healed_tail()[-80:]!r}\n  shown: ...{shown[-80:]!r}\n"
                f"  final: ...{final_visible[max(0, len(shown) - 80) : len(shown) + 20]!r}"
            )
    assert stream.text == text
    assert stream.finish() == final
    return stream


def seen(text: str) -> str:
    """The snapshot after ``text`` arrived character by character (and all at once)."""
    stream = MarkdownStream()
    for ch in text:
        stream.feed(ch)
    whole = MarkdownStream()
    whole.feed(text)
    assert whole.snapshot() == stream.snapshot()
    return stream.snapshot()
