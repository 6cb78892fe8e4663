"""The static output an answer settles into (the live widget view is tested in a kernel: test_magic.py)."""

from __future__ import annotations

import re

from kagura_magic.markdown import render
from kagura_magic.views._bundle import settled_stylesheet, static_bundle
from kagura_magic.views.notebook import stylesheet

CODE_ANSWER = "Use this:\n\n```python\nimport pandas as pd\nprint(pd.__version__)\n```\n"


def token_classes(css: str) -> set[str]:
    return set(re.findall(r"\.([a-z]{1,3})\b", " ".join(re.findall(r"pre[^{]*\{", css))))


def test_bundle_is_readable_everywhere() -> None:
    bundle = static_bundle("**hi**", render("**hi**"), status="demo/echo · 1 tokens")
    assert bundle["text/markdown"] == bundle["text/plain"] == "**hi**"
    assert "<strong>hi</strong>" in bundle["text/html"]
    assert "demo/echo · 1 tokens" in bundle["text/html"]
    assert 'class="kagura-md tex2jax_ignore mathjax_ignore"' in bundle["text/html"]


def test_saved_output_carries_only_the_code_colours_it_uses() -> None:
    prose = settled_stylesheet(render("Just **prose**."))
    assert "pre .k" not in prose and "pre :is(" not in prose
    code_html = render(CODE_ANSWER)
    used = set(re.findall(r'<span class="(\w+)"', code_html))
    css = settled_stylesheet(code_html)
    assert used & token_classes(css), "the tokens in the answer are coloured"
    assert token_classes(css) <= used, "no rules for tokens the answer does not use"
    assert len(css) < len(stylesheet()) - 2000, "unused code colours are left out"


def test_status_and_note_are_escaped() -> None:
    bundle = static_bundle(
        "x", render("x"), status="<b>model</b>", note="<img src=x onerror=alert(1)>", error=True
    )
    assert "<img" not in bundle["text/html"] and "&lt;img" in bundle["text/html"]
    assert "<b>model</b>" not in bundle["text/html"]
