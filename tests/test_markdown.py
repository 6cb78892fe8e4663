"""Tests for ``kagura_magic.markdown``: the configuration, safety, and the stream's invariants.

Invariants (DESIGN.md): 1. ``finish() == render(text)`` for any split;
2. ``committed_html`` only grows, and is a prefix of the final HTML;
3. every snapshot is balanced HTML whose visible text is a prefix of the final
visible text; 5. nothing in an answer can run script.
"""

from __future__ import annotations

import json
import random
import re
import unicodedata
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kagura_magic.markdown import STYLESHEET, MarkdownStream, render
from kagura_magic.markdown._stream import HOLD_LIMIT
from tests.xss_payloads import XSS_PAYLOADS

CASES = json.loads((Path(__file__).parent / "markdown_cases" / "commonmark_cases.json").read_text("utf-8"))
VOID = {"br", "hr", "img", "input", "meta", "link", "area", "base", "col", "embed", "source", "wbr"}


# -- HTML inspection ---------------------------------------------------------------------


class _Inspect(HTMLParser):
    """Collects visible text, checks nesting, and records every tag with its attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:]}")
        else:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
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


# -- the configuration ------------------------------------------------------------------


def test_render_gfm_features() -> None:
    html = render(
        "# T\n\n**b** *i* ~~s~~ https://example.com\n\n- [ ] open\n- [x] done\n\n"
        "| a | b |\n|---|--:|\n| 1 | 2 |\n"
    )
    assert "<h1>T</h1>" in html
    assert "<strong>b</strong> <em>i</em> <s>s</s>" in html
    assert '<a href="https://example.com" rel="noopener noreferrer">https://example.com</a>' in html
    assert 'class="task-list-item-checkbox" disabled="" type="checkbox" checked=""' in html
    assert '<td style="text-align:right">2</td>' in html


def test_render_footnotes_at_the_end() -> None:
    html = render("A[^n] b.\n\n[^n]: The note.\n\nAfter.\n")
    assert html.index("After.") < html.index('<section class="footnotes">')
    assert '<sup class="footnote-ref"><a href="#fn1" id="fnref1">[1]</a></sup>' in html


def test_render_math_for_mathjax() -> None:
    html = render("$x^2$, \\(a<b\\), $$c$$\n\n$$\nE = mc^2\n$$\n\n\\[\n\\sum x\n\\]\n")
    assert '<span class="math inline mathjax_process tex2jax_process">\\(x^2\\)</span>' in html
    assert "\\(a&lt;b\\)" in html
    assert '<span class="math display mathjax_process tex2jax_process">\\[c\\]</span>' in html
    assert '<div class="math display mathjax_process tex2jax_process">\\[E = mc^2\\]</div>' in html
    assert "\\[\\sum x\\]</div>" in html


@pytest.mark.parametrize(
    "text",
    ["$5 and $10", "costs $5, or $10.", "$5/$10 per unit", "between $ 5 and 6 $", "US$5 and US$6"],
)
def test_currency_is_not_math(text: str) -> None:
    assert "math" not in render(text)


def test_math_after_currency_still_math() -> None:
    html = render("$5 and $10 and $x^2$")
    assert html.count('class="math') == 1 and "\\(x^2\\)" in html


def test_highlighting_keeps_language_class_and_text() -> None:
    html = render("```python\nx = '<a>'  # hi\n```\n")
    assert html.startswith('<pre><code class="language-python"><span class=')
    assert visible(html) == "x = '<a>' # hi"
    unknown = render("```nosuchlang\na < b\n```\n")
    assert unknown == '<pre><code class="language-nosuchlang">a &lt; b\n</code></pre>\n'


def test_stylesheet_scoped_and_theme_aware() -> None:
    rules = [line for line in STYLESHEET.splitlines() if "{" in line]
    assert all(".kagura-md" in line for line in rules)
    assert "var(--jp-content-font-color1" in STYLESHEET
    dark = ':is([data-jp-theme-light="false"], body.vscode-dark) .kagura-md pre'
    assert re.search(re.escape(dark) + r" (\.k\b|:is\([^)]*\.k\b)", STYLESHEET), (
        "keywords coloured in dark themes"
    )
    assert not re.search(r"background[^;]*#(?:fff|ffffff|000|000000)\b", STYLESHEET, re.I)


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


def test_xss_collection_is_large_and_fires() -> None:
    assert len(XSS_PAYLOADS) >= 35
    # Each sets the flag (the base64 one does so once decoded); file: is refused as such.
    assert all("__xss_fired" in p or "base64" in p or "file:" in p for p in XSS_PAYLOADS)


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_xss_payload_never_survives(payload: str) -> None:
    assert_safe(render(payload))
    for chunks in (list(payload), chunks_of(payload, 7, 5)):
        stream = MarkdownStream()
        for chunk in chunks:
            stream.feed(chunk)
            assert_safe(stream.snapshot())
        assert_safe(stream.finish())


def test_assert_safe_catches_injections() -> None:
    """The checker itself must be able to fail."""
    for bad in (
        "<script>x</script>",
        '<img src="x" onerror="y">',
        '<a href=" JaVa&#x09;script:x">a</a>',
        '<a href="data:image/png;base64,AA">a</a>',
        "<svg></svg>",
    ):
        with pytest.raises(AssertionError):
            assert_safe(bad)


@pytest.mark.parametrize(
    ("text", "href"),
    [
        ("[a](https://x.org/p?q=1)", "https://x.org/p?q=1"),
        ("[a](/relative/path)", "/relative/path"),
        ("[a](#frag)", "#frag"),
        ("[a](mailto:me@x.org)", "mailto:me@x.org"),
        ("![i](data:image/png;base64,AAAA)", "data:image/png;base64,AAAA"),
    ],
)
def test_safe_links_survive(text: str, href: str) -> None:
    assert href in render(text)


# -- convergence -------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(3))
def test_commonmark_cases_converge(seed: int) -> None:
    """Every case, alone and all run together, converges for any split."""
    for case in CASES:
        stream_check(case, chunks_of(case, seed, 4), frames=False)
    document = "\n".join(CASES)
    stream_check(document, chunks_of(document, seed, 40), frames=False, exact_commits=False)


def test_commonmark_cases_never_broken_char_by_char() -> None:
    """Snapshots of odd documents stay balanced (their text may legitimately change)."""
    for case in CASES:
        stream = MarkdownStream()
        for ch in case:
            stream.feed(ch)
            assert_balanced(stream.tail_html())
        assert stream.finish() == render(case)


def test_crlf_split_anywhere() -> None:
    text = "# T\r\n\r\n- a\r\n- b\r\n\r\npara\rnext\r\n```\r\ncode\r\n```\r"
    for cut in range(len(text) + 1):
        stream_check(text, [text[:cut], text[cut:]], frames=False)


def test_nul_becomes_replacement_char() -> None:
    stream_check("a\0b\n\nc\0\n", list("a\0b\n\nc\0\n"))


@pytest.mark.parametrize(
    "text",
    [
        "Para with [a link][ref] first.\n\nMore text.\n\nEven more.\n\n[ref]: https://example.com\n",
        "Use [shortcut] here.\n\n- list\n\n[shortcut]: /url\n",
        "Ref[^1] here.\n\nNext para.\n\n[^1]: Note.\n",
        "> quote [x][q]\n\npara\n\n> [q]: /in-a-quote\n\nend\n",
        "Ref[^a] and[^b].\n\npara\n\n[^b]: B first.\n\n[^a]: A second.\n",
    ],
)
def test_definitions_after_use_converge(text: str) -> None:
    for seed in range(5):
        stream_check(text, chunks_of(text, seed, 6), frames=False)
    stream_check(text, list(text), frames=False)


def test_held_blocks_wait_for_their_definition() -> None:
    stream = MarkdownStream()
    stream.feed("See [docs][d].\n\nNext.\n\nAnd more.\n\n")
    assert stream.committed_html == ""  # the first paragraph waits for [d]
    stream.feed("[d]: https://docs.example\n\nTail.\n\n")
    assert stream.committed_html.startswith(
        '<p>See <a href="https://docs.example" rel="noopener noreferrer">docs</a>.</p>'
    )


def test_missing_definition_does_not_hold_forever() -> None:
    """Past HOLD_LIMIT the stream commits anyway; a late definition still converges."""
    filler = "".join(f"Paragraph {i} with some words to fill the space.\n\n" for i in range(400))
    text = "A [shortcut] that is never defined.\n\n" + filler + "[late][x]\n\n" + filler
    stream = stream_check(text, chunks_of(text, 1, 30), frames=False)
    assert len(stream.healed_tail()) < HOLD_LIMIT + 200
    late = "Uses [x][y] early.\n\n" + filler + "[y]: https://late.example\n"
    stream = stream_check(late, chunks_of(late, 2, 30), frames=False, exact_commits=False)
    assert not render(late).startswith(stream.committed_html)  # committed before [y] came
    assert stream.finish() == render(late)


def test_definitions_at_the_end_show_before_finish() -> None:
    """Definitions at the end start no block; the held paragraphs still show them."""
    text = "See [the blog] and [docs][d].\n\nMore.\n\n[the blog]: https://b.org\n[d]: https://d.org\n"
    stream = MarkdownStream()
    stream.feed(text)
    assert stream.snapshot() == render(text)


def test_index_brackets_are_text_while_streaming_and_commit_soon() -> None:
    """``dp[i][j]`` is indexing, not a reference link waiting for ``[j]: url``."""
    text = "Here dp[i][j] is the best cost.\n\n" + "".join(f"Step {i} adds a row.\n\n" for i in range(80))
    stream_check(text, chunks_of(text, 1, 8))
    stream = MarkdownStream()
    stream.feed(text[:1600])
    assert stream.committed_html.startswith("<p>Here dp[i][j] is the best cost.</p>")


@pytest.mark.parametrize(
    "text",
    [
        "$$\na = b\n+ c\n$$\n\nAfter.\n",
        "\\[\n(a+b)^2 = a^2\n- 2ab\n\\]\n\nAfter.\n",
        "Text\n$$\na\n- b\n# c\n> d\n1. e\n$$\n\nAfter.\n",
        "$$\na\n+ b\n\nA blank line: it was no math after all.\n",
    ],
)
def test_display_math_with_block_like_lines_converges(text: str) -> None:
    """Unclosed, ``$$`` is a paragraph and ``+ c`` a list that seems to end it: not committed."""
    for seed in range(4):
        stream_check(text, chunks_of(text, seed, 6))
    stream_check(text, list(text))


def test_a_dollar_ending_the_text_is_no_closer_yet() -> None:
    """``US$5 and US$`` would be math, until the ``6`` after it makes it currency."""
    text = "US$5 and US$6 each, or $5/$10 a month.\n"
    stream_check(text, list(text))
    assert "math" not in render(text)


def test_whitespace_between_math_delimiters_is_not_math() -> None:
    assert "math" not in render("Escape them as \\( \\) or \\[ \\].")


def test_duplicate_footnote_definitions_converge() -> None:
    text = "A[^x].\n\n[^x]: first\n\nB[^x].\n\n" + "para\n\n" * 3 + "[^x]: second\n"
    stream_check(text, list(text), frames=False)


# -- healing: the exact frames a user sees --------------------------------------------------


def seen(text: str) -> str:
    """The snapshot after ``text`` arrived character by character (and all at once)."""
    stream = MarkdownStream()
    for ch in text:
        stream.feed(ch)
    whole = MarkdownStream()
    whole.feed(text)
    assert whole.snapshot() == stream.snapshot()
    return stream.snapshot()


LINK = ' rel="noopener noreferrer"'
PY = '<pre><code class="language-python">'


@pytest.mark.parametrize(
    ("text", "html"),
    [
        # emphasis, strike and code spans are closed while open
        ("**bo", "<p><strong>bo</strong></p>\n"),
        ("Some *it", "<p>Some <em>it</em></p>\n"),
        ("a _b c", "<p>a <em>b c</em></p>\n"),
        ("~~del", "<p><s>del</s></p>\n"),
        ("use `df.sh", "<p>use <code>df.sh</code></p>\n"),
        ("**bold `co", "<p><strong>bold <code>co</code></strong></p>\n"),
        ("**bold and \n", "<p><strong>bold and</strong></p>\n"),
        ("**a** and *b", "<p><strong>a</strong> and <em>b</em></p>\n"),
        # a trailing delimiter run may open, close or grow: held back
        ("Hello *", "<p>Hello</p>\n"),
        ("Hello **", "<p>Hello</p>\n"),
        ("Hello ~", "<p>Hello</p>\n"),
        ("x `", "<p>x</p>\n"),
        ("**bold*", "<p><strong>bold</strong></p>\n"),
        # links and images
        ("See [the do", "<p>See</p>\n"),
        ("See [the docs]", "<p>See</p>\n"),
        ("See [the docs](htt", f'<p>See <a href="#"{LINK}>the docs</a></p>\n'),
        ("See [docs](https://d.org) ok", f'<p>See <a href="https://d.org"{LINK}>docs</a> ok</p>\n'),
        ("**See [the docs](htt", f'<p><strong>See <a href="#"{LINK}>the docs</a></strong></p>\n'),
        ("Pic ![alt](https://x.org/a.pn", "<p>Pic</p>\n"),
        ("A [bracket] aside", "<p>A [bracket] aside</p>\n"),
        # autolinks, entities, backslashes
        ("Go <https://exa", "<p>Go</p>\n"),
        ("a <b", "<p>a</p>\n"),
        ("a <b> c", "<p>a &lt;b&gt; c</p>\n"),
        ("see https://exa", f'<p>see <a href="https://exa"{LINK}>https://exa</a></p>\n'),
        ("AT&am", "<p>AT</p>\n"),
        ("AT&amp;T", "<p>AT&amp;T</p>\n"),
        ("a\\", "<p>a</p>\n"),
        ("a hard break\\\n", "<p>a hard break</p>\n"),
        # math
        ("Area $x^", "<p>Area</p>\n"),
        ("Costs $5 and", "<p>Costs $5 and</p>\n"),
        ("a \\(x", "<p>a</p>\n"),
        ("Text\n$$\nx^2", "<p>Text</p>\n"),
        ("$$\nx^2\n$", ""),
        ("$$\nx^2\n$$\n", '<div class="math display mathjax_process tex2jax_process">\\[x^2\\]</div>\n'),
        # fences
        ("`", ""),
        ("``", ""),
        ("```", ""),
        ("```py", ""),
        ("```python", ""),
        ("```python\n", f"{PY}</code></pre>\n"),
        ("```python\nx", f'{PY}<span class="n">x</span>\n</code></pre>\n'),
        ("```python\nx\n`", f'{PY}<span class="n">x</span>\n</code></pre>\n'),
        ("```python\nx\n``", f'{PY}<span class="n">x</span>\n</code></pre>\n'),
        ("```python\nx\n```", f'{PY}<span class="n">x</span>\n</code></pre>\n'),
        ("~~~\na *b*\n", "<pre><code>a *b*\n</code></pre>\n"),
        ("    x = 1\n    y = `a", "<pre><code>x = 1\ny = `a\n</code></pre>\n"),
        ("- a\n  ```\n  b\n  `", "<ul>\n<li>a<pre><code>b\n</code></pre>\n</li>\n</ul>\n"),
        # block markers that are not yet certain
        ("Title\n-", "<p>Title</p>\n"),
        ("Title\n==", "<p>Title</p>\n"),
        ("Title\n---\n", "<h2>Title</h2>\n"),
        ("-", ""),
        ("- ", ""),
        ("1.", ""),
        ("2024", ""),
        ("2024 was", "<p>2024 was</p>\n"),
        ("- a", "<ul>\n<li>a</li>\n</ul>\n"),
        ("- [x", "<ul>\n<li></li>\n</ul>\n"),
        ("##", ""),
        ("## ", ""),
        ("## Ti", "<h2>Ti</h2>\n"),
        ("## Title #", "<h2>Title</h2>\n"),
        (">", ""),
        ("> quo", "<blockquote>\n<p>quo</p>\n</blockquote>\n"),
        ("***", ""),
        # tables appear only when certain, rows only when complete
        ("| a | b |", ""),
        ("| a | b |\n", ""),
        ("| a | b |\n|--", ""),
        ("| a | b |\n|---|---|", ""),
        ("Intro\n| a | b |\n", "<p>Intro</p>\n"),
        ("a | b", ""),
        ("| a | b |\nplain text", "<p>| a | b |\nplain text</p>\n"),
        # definitions are invisible; references before them show as what they become
        ("[d]: https://ex", ""),
        ("Text[^1]", "<p>Text</p>\n"),
        (
            "Text[^1] more",
            '<p>Text<sup class="footnote-ref"><a href="#fn1" id="fnref1">[1]</a></sup> more</p>\n',
        ),
        ("Read [the docs][d] now", f'<p>Read <a href="#"{LINK}>the docs</a> now</p>\n'),
    ],
)
def test_healing_frame(text: str, html: str) -> None:
    assert seen(text) == html


def frames(text: str) -> list[str]:
    """Every distinct snapshot while ``text`` arrives character by character."""
    stream = MarkdownStream()
    out: list[str] = []
    for ch in text:
        stream.feed(ch)
        if not out or out[-1] != stream.snapshot():
            out.append(stream.snapshot())
    return out


def test_frames_of_a_sentence_with_bold_link() -> None:
    strong = "<p>See <strong>the {}</strong>{}</p>\n"
    done = f'<a href="https://d.org"{LINK}>docs</a>'
    assert frames("See **the [docs](https://d.org)** now") == [
        "<p>S</p>\n",
        "<p>Se</p>\n",
        "<p>See</p>\n",
        "<p>See <strong>t</strong></p>\n",
        "<p>See <strong>th</strong></p>\n",
        "<p>See <strong>the</strong></p>\n",
        strong.format(f'<a href="#"{LINK}>docs</a>', ""),
        strong.format(done, ""),
        strong.format(done, " n"),
        strong.format(done, " no"),
        strong.format(done, " now"),
    ]


def test_table_frames() -> None:
    head = "| a | b |\n|---|---|\n"
    table = "<table>\n<thead>\n<tr>\n<th>a</th>\n<th>b</th>\n</tr>\n</thead>\n"
    assert seen(head) == table + "</table>\n"
    assert seen(head + "| 1 | 2") == table + "</table>\n"
    assert seen(head + "| 1 | 2 |\n") == (
        table + "<tbody>\n<tr>\n<td>1</td>\n<td>2</td>\n</tr>\n</tbody>\n</table>\n"
    )


def test_footnote_section_while_streaming() -> None:
    """Only defined notes get an entry; the one still being written has no back-link yet."""
    assert "footnotes" not in seen("A[^1] b.\n\n")
    growing = seen("A[^1] b.\n\n[^1]: The no")
    assert '<li id="fn1" class="footnote-item"><p>The no</p>' in growing
    assert "footnote-backref" not in growing
    done = seen("A[^1] b.\n\n[^1]: The note.\n\n[^2]: x")
    assert 'The note. <a href="#fnref1" class="footnote-backref">' in done


def test_feed_is_cheap_and_tail_is_cached() -> None:
    stream = MarkdownStream()
    stream.feed("Hello **wor")
    first = stream.tail_html()
    assert stream.tail_html() is first
    stream.feed("ld**")
    assert stream.tail_html() == "<p>Hello <strong>world</strong></p>\n"


def test_committed_blocks_join_to_committed_html() -> None:
    stream = MarkdownStream()
    for ch in "# A\n\npara\n\n- x\n- y\n\nend\n":
        stream.feed(ch)
    assert "".join(stream.committed_blocks) == stream.committed_html
    assert stream.committed_html == "<h1>A</h1>\n<p>para</p>\n<ul>\n<li>x</li>\n<li>y</li>\n</ul>\n"
    assert stream.committed_source == "# A\n\npara\n\n- x\n- y\n\n"
    assert stream.healed_tail() == "end\n"


def test_stream_check_can_fail() -> None:
    """The harness must notice a frame whose text is not a prefix of the final text."""
    with pytest.raises(AssertionError):
        # A [x] shown literally becomes a link once its definition arrives.
        stream_check("[x]\n\n[x]: /u\n", ["[x] ", "\n\n[x]: /u\n"])


# -- property tests on realistic answers -----------------------------------------------------

_WORDS = st.sampled_from(
    [
        "data", "model", "the", "rows", "value", "of", "and", "日本語", "テスト", "🎉", "naïve",
        "x²", "a<b", "AT&T", "5 > 3", "snake_case", "C#", "e.g.", "50%", "(paren)", '"quoted"',
        "it's", "2 * 3", "foo_bar_baz", "$5", "$10", "[1]", "arr[i]", "<b>not html</b>",
        "&copy;", "&amp;", "\\*esc\\*", "--", "...", "#tag", "x|y",
    ]
)  # fmt: skip
_SPANS = st.sampled_from(
    [
        "**bold text**", "*italic*", "_under_", "`code span`", "``a ` b``", "~~gone~~",
        "[a link](https://example.com/x_(y))", '[titled](https://example.com "Title")',
        "https://pandas.pydata.org/docs", "www.example.com", "user@example.com",
        "<https://auto.link/x>", "$x^2$", "$\\frac{a}{b}$", "\\(a+b\\)", "$$e^x$$",
        "![img](https://example.com/i.png)", "**bold with `code` inside**",
        "*em with [link](https://e.com)*", "***both***", "**nested *em* here**",
    ]
)  # fmt: skip


@st.composite
def _inline(draw: st.DrawFn, refs: list[str], notes: list[str]) -> str:
    parts = []
    for _ in range(draw(st.integers(2, 10))):
        kind = draw(st.integers(0, 9))
        if kind < 5:
            parts.append(draw(_WORDS))
        elif kind < 9:
            parts.append(draw(_SPANS))
        elif draw(st.booleans()):
            label = draw(st.sampled_from(["docs", "api", "Ref One"]))
            refs.append(label)
            parts.append(f"[see {label}][{label}]")
        else:
            label = draw(st.sampled_from(["1", "note", "2"]))
            if label not in notes:
                notes.append(label)
            parts.append(f"claim[^{label}]")
    return " ".join(parts)


@st.composite
def _block(draw: st.DrawFn, refs: list[str], notes: list[str]) -> str:
    inline = _inline(refs, notes)
    kind = draw(st.sampled_from(["para", "head", "setext", "list", "table", "code", "quote", "math",
                                 "hr", "indented", "nested"]))  # fmt: skip
    if kind == "para":
        return "\n".join(draw(st.lists(inline, min_size=1, max_size=3)))
    if kind == "head":
        return "#" * draw(st.integers(1, 4)) + " " + draw(inline)
    if kind == "setext":
        return draw(inline) + "\n" + draw(st.sampled_from(["===", "---", "-"]))
    if kind in ("list", "nested"):
        marker = draw(st.sampled_from(["-", "*", "1.", "2)", "- [ ]", "- [x]"]))
        gap = "\n\n" if draw(st.booleans()) else "\n"
        items = []
        for n in range(draw(st.integers(1, 4))):
            item = f"{marker.replace('1', str(n + 1))} {draw(inline)}"
            if kind == "nested" and draw(st.booleans()):
                item += "\n   - " + draw(inline) + "\n   - " + draw(inline)
            items.append(item)
        return gap.join(items)
    if kind == "table":
        cols = draw(st.integers(1, 4))
        cell = st.sampled_from(["a", "**b**", "`c`", "1,200", "5%", "日本", "[l](https://x.org)", ""])
        rows = [" | ".join(draw(cell) for _ in range(cols)) for _ in range(draw(st.integers(0, 3)))]
        head = "| " + " | ".join(f"h{i}" for i in range(cols)) + " |"
        delim = "|" + "|".join(draw(st.sampled_from(["---", ":--", "--:", ":-:"])) for _ in range(cols)) + "|"
        return "\n".join([head, delim, *(f"| {row} |" for row in rows)])
    if kind == "code":
        fence = draw(st.sampled_from(["```", "~~~", "````"]))
        lang = draw(st.sampled_from(["python", "js", "", "text", "nosuch", "bash"]))
        lines = draw(st.lists(st.sampled_from(
            ["x = 1", "print('a *b* `c`')", "if a | b:", "  return [x]", "# $5 & <tag>", "", "```",
             "def f(*args, **kw):", "s = \"unterminated"]), min_size=1, max_size=5))  # fmt: skip
        if fence == "```":
            lines = [line for line in lines if "```" not in line]
        return f"{fence}{lang}\n" + "\n".join(lines) + f"\n{fence}"
    if kind == "quote":
        return "\n".join("> " + draw(inline) for _ in range(draw(st.integers(1, 3))))
    if kind == "math":
        body = draw(st.sampled_from(["E = mc^2", "\\sum_{i=1}^n x_i", "a < b \\\\\n c > d"]))
        return draw(st.sampled_from([f"$$\n{body}\n$$", f"\\[\n{body}\n\\]", f"$${body}$$"]))
    if kind == "hr":
        return draw(st.sampled_from(["---", "***", "___"]))
    return "    code line\n    more code"


@st.composite
def answers(draw: st.DrawFn, max_blocks: int = 7) -> str:
    """A realistic answer: blocks, then link and footnote definitions after their use."""
    refs: list[str] = []
    notes: list[str] = []
    blocks = [draw(_block(refs, notes)) for _ in range(draw(st.integers(1, max_blocks)))]
    text = "\n\n".join(blocks)
    defs = [f"[{label}]: https://example.com/{i}" for i, label in enumerate(dict.fromkeys(refs))]
    defs += [f"[^{label}]: Note {label} with *em*." for label in notes]
    if defs:
        text += "\n\n" + "\n\n".join(defs)
    return text + draw(st.sampled_from(["", "\n", "\n\n"]))


def _examples(count: int) -> settings:
    return settings(max_examples=count, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_examples(120)
@given(answers(), st.integers(0, 2**32))
def test_realistic_answers_stream_correctly(text: str, seed: int) -> None:
    stream_check(text, chunks_of(text, seed))


@_examples(40)
@given(answers(max_blocks=4))
def test_realistic_answers_char_by_char(text: str) -> None:
    stream_check(text, list(text))


@_examples(80)
@given(
    st.lists(st.sampled_from(CASES), min_size=1, max_size=6),
    st.sampled_from(["\n", "\n\n", ""]),
    st.integers(0, 2**32),
)
def test_mixed_commonmark_cases_converge(cases: list[str], joiner: str, seed: int) -> None:
    text = joiner.join(cases)
    stream_check(text, chunks_of(text, seed, 5), frames=False)


@_examples(500)
@given(
    st.text(alphabet=st.sampled_from(list("*_`[]()!<>#-+=|$\\~:^&;ab1. \t\n\n\n")), max_size=120),
    st.integers(0, 2**32),
)
def test_markdown_noise_converges_and_stays_balanced(text: str, seed: int) -> None:
    """Any text, however odd: exact convergence, append-only commits, balanced frames."""
    stream = MarkdownStream()
    committed = ""
    for chunk in chunks_of(text, seed, 4):
        stream.feed(chunk)
        assert stream.committed_html.startswith(committed)
        committed = stream.committed_html
        assert render(text).startswith(committed) or stream._forced
        assert_balanced(stream.tail_html())
    assert stream.finish() == render(text)
