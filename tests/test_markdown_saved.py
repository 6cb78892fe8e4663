"""Tests for ``kagura_magic.markdown._saved``: the saved ``text/markdown`` is inert in any renderer.

A renderer that passes raw HTML through (as JupyterLab does for a trusted
output) must get nothing that runs script from the saved Markdown, and must
show the same text our HTML shows.
"""

from __future__ import annotations

import pytest
from markdown_it import MarkdownIt

from kagura_magic.markdown import inert_markdown, render
from tests.markdown_helpers import assert_safe, visible
from tests.xss_payloads import XSS_PAYLOADS

# A CommonMark renderer that trusts HTML and links, like a frontend rendering text/markdown.
PERMISSIVE = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
PERMISSIVE.validateLink = lambda url: True  # type: ignore[method-assign]


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_no_payload_runs_script_when_the_saved_markdown_is_rendered(payload: str) -> None:
    text = f"Before.\n\n{payload}\n\nAfter with {payload} inline.\n"
    assert_safe(PERMISSIVE.render(inert_markdown(text)))


def test_the_permissive_renderer_runs_raw_payloads() -> None:
    """Without inert_markdown the check above fails: the renderer passes raw HTML and links on."""
    for payload in ("<img src=x onerror=alert(1)>", "[x](javascript:alert(1))", "<p ontoggle=alert(1)>"):
        with pytest.raises(AssertionError):
            assert_safe(PERMISSIVE.render(payload))


@pytest.mark.parametrize(
    "text",
    [
        "Hi <img src=x onerror=alert(1)> there, and <b>bold</b>?",
        '<div onclick="x()">\nblock\n</div>\n\ntext',
        "an <a\nhref='x'\nonmouseover=alert(1)>link</a> over lines",
        "| a | b |\n|---|---|\n| <i>x</i> | y |\n",
    ],
)
def test_escaped_html_shows_the_text_our_html_shows(text: str) -> None:
    assert visible(PERMISSIVE.render(inert_markdown(text))) == visible(render(text))


@pytest.mark.parametrize(
    "text",
    [
        "code `<b>` and\n\n```html\n<script>alert(1)</script>\n```\n",
        "math $x > y$ here and a < b, 3 <= 4",
        "<https://example.com> and [ok](https://a.b/c_(d)) and ![i](data:image/png;base64,AA)",
        "plain **Markdown** with a [link](#section) and no HTML at all",
    ],
)
def test_code_math_autolinks_and_safe_links_are_left_as_written(text: str) -> None:
    assert inert_markdown(text) == text


def test_a_tag_opener_in_math_is_written_as_tex_and_elsewhere_as_an_entity() -> None:
    assert inert_markdown("$a<b>c$ and x<y") == r"$a\lt b>c$ and x&lt;y"
    assert inert_markdown("$$\n</div><img src=x>\n$$\n") == "$$\n\\lt /div>\\lt img src=x>\n$$\n"


def test_unsafe_link_destinations_become_fragments() -> None:
    links = "[x](javascript:alert(1)) and [y](<vbscript:msgbox>)"
    saved = inert_markdown(f"{links}\n\n[r]: javascript:alert(2)\n")
    assert "javascript" not in saved and "vbscript" not in saved
    assert saved == "[x](#) and [y](#)\n\n[r]: #\n"


def test_a_fence_info_string_cannot_break_out_of_a_class_attribute() -> None:
    """JupyterLab's Markdown renderer writes the info string into class="language-…" as it is."""
    saved = inert_markdown(
        '```"><img src=x onerror=alert(1)>\ncode <b>\n```\n\n> ~~~ " onmouseover="x\n> y\n> ~~~\n'
    )
    assert saved == (
        "```&quot;&gt;&lt;img src=x onerror=alert(1)&gt;\ncode <b>\n```\n\n"
        "> ~~~ &quot; onmouseover=&quot;x\n> y\n> ~~~\n"
    )
