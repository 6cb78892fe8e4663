"""templating.py: ``{{ }}`` over the notebook's names, and a typo named as one."""

from __future__ import annotations

import pytest

from kagura_magic.errors import TemplateError
from kagura_magic.templating import render_template


def test_an_undefined_name_suggests_a_close_variable() -> None:
    with pytest.raises(TemplateError) as caught:
        render_template("Summarise {{ dff }}", {"df": [1, 2], "rows": 3})
    assert "'dff' is undefined" in caught.value.message
    assert caught.value.hint.startswith("Did you mean df?")


def test_no_suggestion_when_nothing_is_close() -> None:
    with pytest.raises(TemplateError) as caught:
        render_template("{{ zebra }}", {"df": 1, "_private": 2})
    assert "Did you mean" not in caught.value.hint and "--no-template" in caught.value.hint


def test_private_names_are_not_suggested() -> None:
    with pytest.raises(TemplateError) as caught:
        render_template("{{ _ii }}x", {"_iii": "", "_i": ""})
    assert "Did you mean" not in caught.value.hint


def test_other_braces_are_left_alone() -> None:
    text = 'd = {"a": 1}; echo ${#arr[@]} {# not a comment #}'
    assert render_template(text, {}) == text
