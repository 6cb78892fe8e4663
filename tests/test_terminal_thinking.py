"""A reasoning model's thinking and its tool calls on a terminal (issue 14, items 4 and 5).

The live view is driven in process with a virtual clock and its bytes are
replayed through a terminal emulator, so each test reads what a user sees:
thinking dim behind a bar under a clock, folded into "Thought for N s" when
the answer starts (``live``), kept in the scrollback (``keep``), or never
drawn (``hide``); never mixed into the answer, never lost when no answer
follows. The CLI tests run the real ``kagura`` against the local server.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest

from kagura_magic.llm import StreamStats, ToolCallEvent
from kagura_magic.views import Outcome
from kagura_magic.views.terminal import LiveMarkdownView, PlainStreamView
from kagura_magic.views.terminal._thinking import BAR, ThinkingMode
from tests.openai_server import OpenAIServer
from tests.pty_harness import kagura_argv, replay, run_on_pty

COLUMNS, LINES = 60, 20
THINKING = (
    "The user wants the weekdays in a range.\n\n"
    "- 3 March is a Monday\n- the weekend does not count\n\n"
    "So the count is 10, which I will check once more before answering."
)
ANSWER = "There are **10 weekdays** in that range.\n"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _view(thinking: ThinkingMode, clock: Clock) -> tuple[LiveMarkdownView, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    view = LiveMarkdownView(
        "demo",
        out=out,
        err=err,
        size=lambda: (COLUMNS, LINES),
        clock=clock,
        color=False,
        spinner=False,
        thinking=thinking,
    )
    return view, out, err


def _think(view: LiveMarkdownView, clock: Clock, text: str = THINKING, seconds: float = 12.0) -> None:
    """Stream ``text`` as thinking over ``seconds``, one frame per piece, as the pump would."""
    view.start()
    words = text.split(" ")
    for index, word in enumerate(words):
        view.think(word + (" " if index < len(words) - 1 else ""))
        clock.now += seconds / len(words)
        view.flush()


def _lines(out: io.StringIO) -> list[str]:
    return [line for line in replay(out.getvalue(), COLUMNS, LINES).lines if line]


def _complete(text: str, calls: tuple[ToolCallEvent, ...] = ()) -> Outcome:
    return Outcome("complete", text, StreamStats(model="demo"), tool_calls=calls)


def test_thinking_shows_live_under_a_clock_then_folds_into_one_line() -> None:
    clock = Clock()
    view, out, _ = _view("live", clock)
    _think(view, clock)
    live = _lines(out)
    assert live[-1].startswith(tuple("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏")) and live[-1].endswith("Thinking… 12 s"), live
    assert all(line.startswith(BAR.rstrip()) for line in live[:-1]) and len(live) > 1
    assert any("check once more" in line for line in live), "the latest thinking is in view"
    assert any("• the weekend does not count" in line for line in live), "laid out as Markdown"

    view.feed(ANSWER)
    view.flush()
    view.settle(_complete(ANSWER))
    shown = _lines(out)
    assert shown == ["Thought for 12 s", "There are 10 weekdays in that range."], shown


def test_keep_prints_every_row_of_thinking_once_above_the_answer() -> None:
    clock = Clock()
    view, out, _ = _view("keep", clock)
    _think(view, clock, seconds=3.0)
    view.feed(ANSWER)
    view.settle(_complete(ANSWER))
    shown = _lines(out)
    thought = [line.removeprefix(BAR.rstrip()).strip() for line in shown[: shown.index("Thought for 3 s")]]
    assert thought == [
        "The user wants the weekdays in a range.",
        "",
        "• 3 March is a Monday",
        "• the weekend does not count",
        "",
        "So the count is 10, which I will check once more before",
        "answering.",
    ], thought
    assert shown[-1] == "There are 10 weekdays in that range."
    assert "".join(shown).count("3 March is a Monday") == 1, "no row printed twice"


def test_long_thinking_shows_only_its_latest_rows_live() -> None:
    clock = Clock()
    view, out, _ = _view("live", clock)
    paragraphs = "\n\n".join(f"Step {number} of the plan, checked." for number in range(1, 40))
    _think(view, clock, paragraphs)
    live = _lines(out)
    assert len(live) <= 8, live  # six rows of thinking and the clock: the answer gets the screen
    assert any("Step 39" in line for line in live) and not any("Step 1 " in line for line in live)


def test_hide_draws_no_thinking_and_no_line() -> None:
    clock = Clock()
    view, out, _ = _view("hide", clock)
    _think(view, clock)
    assert _lines(out) == []
    view.feed(ANSWER)
    view.settle(_complete(ANSWER))
    assert _lines(out) == ["There are 10 weekdays in that range."]


@pytest.mark.parametrize("mode", ["live", "hide"])
def test_thinking_that_no_answer_followed_is_kept_in_full(mode: ThinkingMode) -> None:
    """A drop or a stop while the model thinks: what it thought is all that arrived, so it stays."""
    clock = Clock()
    view, out, _ = _view(mode, clock)
    _think(view, clock)
    view.settle(Outcome("interrupted", "", StreamStats(model="demo"), message="stopped"))
    shown = [line.removeprefix(BAR.rstrip()).strip() for line in _lines(out)]
    assert shown[0] == "The user wants the weekdays in a range." and "answering." in shown[-1], shown
    assert not any("Thinking…" in line or "Thought for" in line for line in shown)


def test_a_tool_call_is_a_card_not_an_error() -> None:
    clock = Clock()
    view, out, err = _view("live", clock)
    view.start()
    call = ToolCallEvent(0, "get_weather", '{"city": "Paris", "unit": "celsius"}', "call_1")
    view.call(ToolCallEvent(0, "get_weather", '{"city": '), None)
    view.call(call, None)
    view.settle(_complete("", (call,)))
    shown = _lines(out)
    assert shown[0] == "Tool call get_weather", shown
    assert '"city": "Paris",' in "\n".join(shown) and '"unit": "celsius"' in "\n".join(shown)
    assert any("not run: kagura-magic does not run tools" in line for line in shown)
    assert "demo" in err.getvalue(), "the status line follows, as for any answer"


def test_piped_output_never_carries_thinking_or_calls() -> None:
    out, err = io.StringIO(), io.StringIO()
    view = PlainStreamView("demo", out=out, err=err, thinking="keep")
    view.start()
    view.think("I should count the days.")
    call = ToolCallEvent(0, "lookup", '{"q": "\x1b]0;pwned\x07"}')
    view.feed(ANSWER)
    view.call(call)
    view.settle(_complete(ANSWER, (call,)))
    assert out.getvalue() == ANSWER, "stdout is the answer's Markdown, byte for byte"
    lines = err.getvalue().splitlines()
    assert lines[0] == "I should count the days." and lines[1].startswith("Thought for")
    assert 'Tool call: lookup({"q": "^[]0;pwned^G"})' in lines, "stderr shows controls, never obeys them"


def test_piped_output_without_show_thinking_says_nothing_of_it() -> None:
    out, err = io.StringIO(), io.StringIO()
    view = PlainStreamView("demo", out=out, err=err, thinking="live")
    view.start()
    view.think("I should count the days.")
    view.feed(ANSWER)
    view.settle(_complete(ANSWER))
    assert out.getvalue() == ANSWER
    assert "count the days" not in err.getvalue() and "Thought for" not in err.getvalue()  # not a tty


def _cli_env() -> dict[str, str]:
    return {**os.environ, "OPENAI_API_KEY": "sk-cli-test", "NO_COLOR": "1"}


@pytest.mark.slow  # CLI processes that import litellm
def test_cli_on_a_terminal_folds_thinking_or_keeps_it(openai_server: OpenAIServer) -> None:
    argv = kagura_argv("-m", "openai/reasoning", "--api-base", openai_server.api_base, "2+2?")
    folded = run_on_pty(argv, COLUMNS, LINES, env=_cli_env())
    assert folded.returncode == 0
    lines = [line for line in folded.picture.lines if line]
    assert lines[0].startswith("Thought for") and lines[1] == "The answer is 4.", lines
    kept = run_on_pty([*argv, "--show-thinking"], COLUMNS, LINES, env=_cli_env())
    lines = [line for line in kept.picture.lines if line]
    assert lines[0] == f"{BAR}Two plus two is four." and lines[1].startswith("Thought for"), lines
    assert lines[2] == "The answer is 4."


@pytest.mark.slow  # CLI processes that import litellm
def test_cli_piped_writes_thinking_to_stderr_only_when_asked(openai_server: OpenAIServer) -> None:
    argv = [
        sys.executable,
        "-m",
        "kagura_magic",
        "-m",
        "openai/reasoning",
        "--api-base",
        openai_server.api_base,
    ]
    for flags, on_stderr in (([], False), (["--show-thinking"], True)):
        result = subprocess.run(
            [*argv, *flags, "2+2?"], capture_output=True, text=True, env=_cli_env(), timeout=120
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout == "The answer is 4.\n"
        assert ("Two plus two is four." in result.stderr) is on_stderr, result.stderr


@pytest.mark.slow  # a CLI process that imports litellm
def test_cli_shows_a_tool_call_and_succeeds(openai_server: OpenAIServer) -> None:
    argv = kagura_argv("-m", "openai/tool-call", "--api-base", openai_server.api_base, "weather?")
    run = run_on_pty(argv, COLUMNS, LINES, env=_cli_env())
    assert run.returncode == 0
    shown = "\n".join(run.picture.lines)
    assert "Tool call get_weather" in shown and '"city": "Paris"' in shown, shown
    assert "Traceback" not in shown and "tool call, not text" not in shown
