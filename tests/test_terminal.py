"""Tests for ``kagura_magic.views.terminal`` itself: which view the magic and the CLI are given."""

from __future__ import annotations

import io

import pytest

from kagura_magic.views import Outcome
from kagura_magic.views.terminal import make_view


def test_the_view_writes_raw_text_when_piped() -> None:
    out, err = io.StringIO(), io.StringIO()
    view = make_view("demo/echo", out=out, err=err)
    view.start()
    for piece in ("# Ti", "tle\n\n**bo", "ld**"):
        view.feed(piece)
    view.settle(Outcome("complete", view.text))
    assert out.getvalue() == "# Title\n\n**bold**\n" and view.text == "# Title\n\n**bold**"


def test_held_json_shows_what_arrived_when_it_is_not_complete(monkeypatch: pytest.MonkeyPatch) -> None:
    """A data view that never completes still shows every character that came."""
    monkeypatch.setenv("NO_COLOR", "1")  # rich would cache this colour system's codes (see test_answer)

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Terminal()
    view = make_view("demo/echo", out=out, err=Terminal(), mode="data")
    view.start()
    view.feed('{"a": [1, 2')
    assert out.getvalue() == "", "nothing is shown while it is held"
    view.settle(Outcome("interrupted", view.text))
    assert '{"a": [1, 2' in out.getvalue()
