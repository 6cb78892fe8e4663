"""Tests for ``kagura_magic.markdown._style``: the stylesheet, scoped and readable in any theme."""

from __future__ import annotations

import re

from kagura_magic.markdown import STYLESHEET, render, stylesheet_for


def test_stylesheet_scoped_and_theme_aware() -> None:
    rules = [line for line in STYLESHEET.splitlines() if "{" in line]
    assert all(".kagura-md" in line for line in rules)
    assert "var(--jp-content-font-color1" in STYLESHEET
    dark = ':is([data-jp-theme-light="false"], body.vscode-dark) .kagura-md pre'
    assert re.search(re.escape(dark) + r" (\.k\b|:is\([^)]*\.k\b)", STYLESHEET), (
        "keywords coloured in dark themes"
    )
    assert not re.search(r"background[^;]*#(?:fff|ffffff|000|000000)\b", STYLESHEET, re.I)


def test_stylesheet_for_carries_only_the_code_colours_an_answer_uses() -> None:
    base = stylesheet_for("<p>No code here.</p>")
    assert " pre ." not in base and " pre :is(" not in base  # no token colours without code
    code = stylesheet_for(render("```python\nx = 1  # c\n```\n"))
    assert code.startswith(base) and len(code) < len(STYLESHEET)
    added = code[len(base) :]
    assert re.search(r"\.kagura-md pre [^{]*\.c1\b", added)  # the comment is coloured
    assert not re.search(r"\.kagura-md pre [^{]*\.k\b", added)  # no keyword in the code, no rule
