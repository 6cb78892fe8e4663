"""Tests for ``kagura_magic.markdown._plain``: ``PlainTextStream``, the verbatim twin (``-f text``)."""

from __future__ import annotations

from kagura_magic.markdown import PlainTextStream


def test_complete_lines_are_committed_once_and_the_last_line_is_the_tail() -> None:
    stream = PlainTextStream()
    stream.feed("first li")
    assert stream.committed_html == ""
    assert stream.tail_html() == '<div class="kagura-line">first li</div>'
    stream.feed("ne\n\nsec")
    committed = stream.committed_html
    assert committed == '<div class="kagura-line">first line</div><div class="kagura-line">&#8203;</div>'
    stream.feed("ond")
    assert stream.committed_html == committed  # append-only: nothing re-rendered
    assert stream.tail_html() == '<div class="kagura-line">second</div>'
    assert stream.text == "first line\n\nsecond"


def test_text_is_shown_verbatim_never_as_markup() -> None:
    stream = PlainTextStream()
    for piece in ("**not bold** <scr", "ipt>x</script>\n", ""):
        stream.feed(piece)
    html = stream.finish()
    assert html == (
        '<div class="kagura-text"><div class="kagura-line">'
        "**not bold** &lt;script&gt;x&lt;/script&gt;</div></div>"
    )
    assert stream.snapshot() == html
