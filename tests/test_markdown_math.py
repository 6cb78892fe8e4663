"""Tests for ``kagura_magic.markdown._math``: TeX math for MathJax, and currency that stays text."""

from __future__ import annotations

import pytest

from kagura_magic.markdown import render
from tests.markdown_helpers import stream_check


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


def test_a_dollar_ending_the_text_is_no_closer_yet() -> None:
    """``US$5 and US$`` would be math, until the ``6`` after it makes it currency."""
    text = "US$5 and US$6 each, or $5/$10 a month.\n"
    stream_check(text, list(text))
    assert "math" not in render(text)


def test_whitespace_between_math_delimiters_is_not_math() -> None:
    assert "math" not in render("Escape them as \\( \\) or \\[ \\].")
