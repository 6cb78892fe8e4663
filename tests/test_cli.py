"""``python -m kagura_magic`` as a user runs it (subprocesses, piped stdout)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from kagura_magic.providers.demo_answers import ANSWERS
from tests.openai_server import OpenAIServer


def kagura(*args: str, stdin: str = "", env: dict | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kagura_magic", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


@pytest.mark.slow  # a CLI process that imports litellm
def test_piped_output_is_exactly_the_answer() -> None:
    result = kagura("-m", "demo/showcase", "--param", "tokens_per_second=0", "Write a long story")
    assert result.returncode == 0
    expected = ANSWERS["showcase"] if ANSWERS["showcase"].endswith("\n") else ANSWERS["showcase"] + "\n"
    assert result.stdout == expected
    assert "demo/showcase" in result.stderr and "tok/s" in result.stderr


@pytest.mark.slow  # a CLI process that imports litellm
def test_stdin_is_appended_after_the_argument() -> None:
    result = kagura(
        "-m",
        "demo/echo",
        "--param",
        "tokens_per_second=0",
        "Summarise:",
        stdin="line one\nline two\n",
    )
    assert result.stdout == "Summarise:\n\nline one\nline two\n"


@pytest.mark.slow  # a CLI process that imports litellm
def test_quiet_hides_the_status_line() -> None:
    result = kagura("-q", "-m", "demo/echo", "--param", "tokens_per_second=0", "hi")
    assert (result.stdout, result.stderr) == ("hi\n", "")


@pytest.mark.slow  # a CLI process that imports litellm
def test_errors_are_one_short_message_and_nonzero() -> None:
    result = kagura("-m", "demo/nope", "hi")
    assert result.returncode == 1
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert "Unknown demo model" in result.stderr and len(result.stderr.strip().splitlines()) <= 2


@pytest.mark.slow  # a CLI process that imports litellm
def test_midstream_error_keeps_partial_answer() -> None:
    result = kagura("-m", "demo/showcase", "--param", "tokens_per_second=0", "--param", "fail_after=80", "x")
    assert result.returncode == 1
    assert ANSWERS["showcase"].startswith(result.stdout.rstrip("\n")) and len(result.stdout) >= 80
    assert "Connection" in result.stderr and "Traceback" not in result.stderr


def test_no_model_is_a_usage_error() -> None:
    result = kagura("hello")
    assert result.returncode == 2 and "demo/showcase" in result.stderr


def test_help_is_real_help() -> None:
    result = kagura("--help")
    assert result.returncode == 0
    for option in ("--model", "--param", "--system", "--temperature", "--max-tokens", "--api-base"):
        assert option in result.stdout


def test_prompt_from_stdin_alone_and_after_the_argument() -> None:
    import io

    from kagura_magic.__main__ import read_prompt

    assert read_prompt([], io.StringIO("notes\n")) == "notes\n"
    assert read_prompt(["Summarise", "this:"], io.StringIO("notes\n")) == "Summarise this:\n\nnotes\n"


def test_the_view_is_raw_when_piped_or_plain_and_live_on_a_terminal() -> None:
    import io
    import os

    from kagura_magic.views.terminal import LiveMarkdownView, PlainStreamView, make_view

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert isinstance(make_view("m", out=io.StringIO()), PlainStreamView)
    assert isinstance(make_view("m", out=Tty(), mode="verbatim"), PlainStreamView)
    if os.environ.get("TERM", "xterm") != "dumb":
        assert isinstance(make_view("m", out=Tty()), LiveMarkdownView)


def test_help_explains_the_terminal_behaviour() -> None:
    from kagura_magic.__main__ import build_parser

    text = build_parser().format_help()
    for words in ("--plain", "--quiet", "NO_COLOR", "stdin", "130"):
        assert words in text


@pytest.mark.slow  # a CLI process that imports litellm
def test_an_answer_without_text_says_why_and_fails(openai_server: OpenAIServer) -> None:
    env = {**os.environ, "OPENAI_API_KEY": "sk-cli-test"}
    base = openai_server.api_base
    result = kagura("-m", "openai/no-text-length", "--api-base", base, "hi", env=env)
    assert result.returncode == 1 and result.stdout == ""
    assert "token limit" in result.stderr and "--max-tokens" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow  # a CLI process that imports litellm
def test_a_content_filter_cut_is_on_the_status_line(openai_server: OpenAIServer) -> None:
    env = {**os.environ, "OPENAI_API_KEY": "sk-cli-test"}
    result = kagura("-m", "openai/filtered", "--api-base", openai_server.api_base, "hi", env=env)
    assert result.stdout == "I was starting to say\n"
    assert "content filter" in result.stderr
