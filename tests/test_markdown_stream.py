"""Tests for ``kagura_magic.markdown._stream``: ``MarkdownStream``'s invariants, commits and holds.

Invariants (DESIGN.md): 1. ``finish() == render(text)`` for any split;
2. ``committed_html`` only grows, and is a prefix of the final HTML;
3. every snapshot is balanced HTML whose visible text is a prefix of the final
visible text (checked on every frame by ``tests.markdown_helpers.stream_check``).
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kagura_magic.markdown import MarkdownStream, render
from kagura_magic.markdown._stream import HOLD_LIMIT
from tests.markdown_helpers import CASES, assert_balanced, chunks_of, stream_check

# -- convergence -------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(3))
def test_commonmark_cases_converge(seed: int) -> None:
    """Every case, alone and all run together, converges for any split."""
    for case in CASES:
        stream_check(case, chunks_of(case, seed, 4), frames=False)
    document = "\n".join(CASES)
    stream_check(document, chunks_of(document, seed, 40), frames=False, exact_commits=False)


@pytest.mark.slow
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


def test_duplicate_footnote_definitions_converge() -> None:
    text = "A[^x].\n\n[^x]: first\n\nB[^x].\n\n" + "para\n\n" * 3 + "[^x]: second\n"
    stream_check(text, list(text), frames=False)


# -- the stream's state ---------------------------------------------------------------


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
    assert (
        stream.committed_html == '<h1 id="kagura-a">A</h1>\n'
        "<p>para</p>\n<ul>\n<li>x</li>\n<li>y</li>\n</ul>\n"
    )
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
        "<https://auto.link/x>", "$x^2$", "$\\frac{a}{b}$", "\\(a+b\\)", "$$e^x$$", "$10^5$", "$0.667$",
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


@pytest.mark.slow
@_examples(120)
@given(answers(), st.integers(0, 2**32))
def test_realistic_answers_stream_correctly(text: str, seed: int) -> None:
    stream_check(text, chunks_of(text, seed))


@pytest.mark.slow
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
