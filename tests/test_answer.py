"""answer.py: every ending of an answer, settled the same way in any view.

Real streams (the offline demo provider, the local server), real terminal
views writing into a terminal-like buffer; nothing of ours is mocked.
"""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator

import pytest

from kagura_magic import answer
from kagura_magic.config import LLMConfig
from kagura_magic.errors import FormatError, MissingAPIKeyError
from kagura_magic.llm import StreamStats, call_llm_stream
from kagura_magic.views import Outcome
from kagura_magic.views.terminal import make_view, plain

ECHO = LLMConfig(model="demo/echo", extra={"tokens_per_second": 0})


@pytest.fixture(autouse=True)
def _no_colour(monkeypatch: pytest.MonkeyPatch) -> None:
    """Colourless terminal views: rich caches a style's escape codes for the first colour system
    it renders with, and the pty tests compare colours against a 256-colour reference."""
    monkeypatch.setenv("NO_COLOR", "1")


class _Terminal(io.StringIO):
    """A buffer that says it is a terminal: the views draw as they would on one."""

    def isatty(self) -> bool:
        return True


def _run(prompt: str, output_format: str, config: LLMConfig = ECHO) -> tuple[Outcome, str, str]:
    out, err = _Terminal(), _Terminal()
    from kagura_magic.formats import LIVE_MODES

    view = make_view("demo/echo", out=out, err=err, mode=LIVE_MODES[output_format])
    outcome = answer.run(
        view, lambda: call_llm_stream(prompt, config), model="demo/echo", output_format=output_format
    )
    return outcome, plain(out.getvalue()), plain(err.getvalue())


def test_a_complete_answer_settles_with_its_status_line() -> None:
    outcome, shown, status = _run("# Title\n\nSome **bold** words.", "markdown")
    assert outcome.ok and outcome.message is None and outcome.value == outcome.text
    assert "Title" in shown and "bold" in shown and "**" not in shown, "rendered as Markdown"
    assert "demo/echo" in status and "tokens" in status


def test_text_format_is_verbatim_on_a_terminal() -> None:
    """``-f text`` in terminal IPython used to render Markdown: asterisks and hashes vanished."""
    prompt = "# not a heading\n\n**not bold** and `not code`"
    outcome, shown, _ = _run(prompt, "text")
    assert outcome.ok
    assert prompt in shown


def test_html_format_shows_the_html_itself_on_a_terminal() -> None:
    """rich's Markdown drops tags and keeps their text; a terminal shows the HTML as written."""
    prompt = "<p>Hello <b>world</b></p>"
    outcome, shown, _ = _run(prompt, "html")
    assert outcome.ok and prompt in shown
    assert outcome.rendering.html == "<p>Hello <b>world</b></p>" and "text/markdown" in outcome.rendering.omit


def test_json_format_is_held_then_shown_pretty_on_a_terminal() -> None:
    """``-f json`` in terminal IPython dropped its pretty form; now the parsed value is shown, once."""
    prompt = '{"b": [1, 2], "a": {"nested": true}}'
    outcome, shown, _ = _run(prompt, "json")
    assert outcome.ok and outcome.value == json.loads(prompt)
    pretty = json.dumps(json.loads(prompt), indent=2)
    for line in pretty.splitlines():
        assert line.strip() in shown
    assert prompt not in shown, "the raw one-line JSON is not shown as well"


def test_invalid_json_keeps_what_arrived_and_says_why() -> None:
    outcome, shown, _ = _run("{not json", "json")
    assert outcome.status == "invalid" and isinstance(outcome.error, FormatError)
    assert outcome.message is not None and "not valid JSON" in outcome.message
    assert "{not json" in shown, "nothing streamed is lost"


def test_an_empty_answer_says_why() -> None:
    outcome, _, status = _run("", "markdown")
    assert outcome.status == "empty"
    assert outcome.message is not None and "empty answer" in outcome.message
    assert "tokens" not in status, "no status line for an answer that is not there"


def test_a_request_that_cannot_be_made_fails_with_the_error_message() -> None:
    config = LLMConfig(model="openai/gpt-4o-mini")  # no key in the test environment
    outcome, shown, _ = _run("hello", "markdown", config)
    assert outcome.status == "failed" and isinstance(outcome.error, MissingAPIKeyError)
    assert outcome.message is not None and "OPENAI_API_KEY" in outcome.message
    assert shown == ""


def test_interrupt_messages_say_whether_anything_arrived() -> None:
    assert answer.interrupted_message("m", "") == "Interrupted before any answer arrived from m."
    message = answer.interrupted_message("m", "x" * 1200)
    assert "1,200 characters" in message and "kept" in message
    stats = StreamStats(model="m", completion_tokens=310)
    assert "~310 tokens" in answer.interrupted_message("m", "x" * 1200, stats)
    assert answer.interrupted_message("m", "x" * 1200, stats, verb="Stopped") == (
        "Stopped after ~310 tokens from m; the partial answer is kept above."
    )
    thinking = StreamStats(model="m", thinking_started=1.0)
    assert answer.interrupted_message("m", "", thinking) == (
        "Interrupted while m was still thinking, before any answer text arrived."
    )


def test_code_format_offers_the_code_as_the_next_cell() -> None:
    prompt = "Try this:\n\n```python\nprint('hi')\n```\n"
    outcome, _, _ = _run(prompt, "code")
    assert outcome.ok and outcome.next_cell == "print('hi')\n" and outcome.value == "print('hi')\n"


async def test_show_stream_settles_then_reraises_what_the_iterator_raised(
    capsys: pytest.CaptureFixture[str],
) -> None:
    async def pieces() -> AsyncIterator[str]:
        yield "Half an "
        await asyncio.sleep(0)
        yield "answer"
        raise ValueError("the source broke")

    with pytest.raises(ValueError, match="the source broke"):
        await answer.show_stream(pieces(), label="mine")
    assert "Half an answer" in capsys.readouterr().out, "what arrived was shown"


async def test_show_stream_returns_the_text_of_a_real_stream(capsys: pytest.CaptureFixture[str]) -> None:
    text = await answer.show_stream(call_llm_stream("streamed *back*", ECHO))
    assert text == "streamed *back*"
    assert "streamed *back*" in capsys.readouterr().out


def test_a_stopped_answer_is_kept_and_noted_not_an_error() -> None:
    from kagura_magic.views._bundle import settled_bundle
    from kagura_magic.views.pump import Ending

    stats = StreamStats(model="m", completion_tokens=12)
    outcome = answer.judge(Ending("Half an answ", stopped=True), model="m", stats=stats)
    assert outcome.status == "stopped" and not outcome.ok
    assert outcome.value == "Half an answ", "-o keeps the answer as it stood"
    assert (
        outcome.note
        == outcome.message
        == "Stopped after ~12 tokens from m; the partial answer is kept above."
    )
    assert outcome.metadata()["status"] == "stopped"
    bundle = settled_bundle(outcome, lambda: "<p>Half an answ</p>")
    assert (
        "kagura-stopped" in bundle["text/html"]
        and "kagura-error" not in bundle["text/html"].split("</style>")[-1]
    )
    assert bundle["text/plain"] == "Half an answ\n\n[" + outcome.message + "]"
