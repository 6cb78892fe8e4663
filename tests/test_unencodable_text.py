"""Prompts that UTF-8 cannot encode (lone surrogates) are sent with U+FFFD and one note.

Never a traceback, never a retry blamed on the provider: the text is made
sendable where it enters (``whole_characters``, through ``build_messages``,
the magic's prompt and the CLI's), and the request goes out once.
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import pytest

from kagura_magic import llm
from kagura_magic.config import LLMConfig
from kagura_magic.history import exchange_key
from kagura_magic.llm import UNENCODABLE_NOTE, build_messages, call_llm, call_llm_stream, whole_characters
from tests.kernel_client import Kernel
from tests.openai_server import OpenAIServer, local_config

ECHO = LLMConfig(model="demo/echo", extra={"tokens_per_second": 0})
LONE = "x\ud800y"


def test_lone_halves_become_replacement_characters_and_pairs_are_joined() -> None:
    assert whole_characters(LONE) == "x\ufffdy"
    assert whole_characters("a\udcffb\udfff") == "a\ufffdb\ufffd"  # surrogateescape'd bytes too
    assert whole_characters("\ud83d\ude00!") == "😀!"
    text = "plain 表 😀"
    assert whole_characters(text) is text


def test_build_messages_cleans_every_text_once_with_one_warning() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        messages = build_messages(
            [
                {"role": "user", "content": LONE},
                {"role": "user", "content": [{"type": "text", "text": "p\udc80"}, {"type": "image_url"}]},
            ],
            system_prompt="s\ud800",
        )
    assert [m["content"] for m in messages] == [
        "s\ufffd",
        "x\ufffdy",
        [{"type": "text", "text": "p\ufffd"}, {"type": "image_url"}],
    ]
    assert [(w.category, str(w.message)) for w in caught] == [(UnicodeWarning, UNENCODABLE_NOTE)]
    for message in messages:
        str(message).encode("utf-8")  # sendable


def test_clean_messages_give_no_warning() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert build_messages("fine 😀")[0]["content"] == "fine 😀"


def test_the_history_key_of_any_prompt() -> None:
    assert exchange_key(None, LONE).startswith("prompt:")
    assert exchange_key(None, LONE) != exchange_key(None, "x\ufffdy")


def test_the_stream_sends_it_once_and_answers(openai_server: OpenAIServer) -> None:
    with pytest.warns(UnicodeWarning, match="U\\+FFFD"):
        stream = call_llm_stream(LONE, local_config(openai_server, "ok"))
    assert "".join(stream) == "x\ufffdy"
    assert stream.stats.attempts == 1
    assert [r["messages"][-1]["content"] for r in openai_server.requests] == ["x\ufffdy"]


def test_a_complete_answer_too() -> None:
    with pytest.warns(UnicodeWarning):
        assert call_llm("a\udcffb", ECHO).content == "a\ufffdb"


@pytest.mark.slow  # a CLI process that imports litellm
def test_the_cli_takes_bytes_that_are_not_utf8_in_arguments_and_stdin() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "kagura_magic",
            "-m",
            "demo/echo",
            "--param",
            "tokens_per_second=0",
            "a\udcffb",
        ],
        input=b"piped \xfe\n",
        capture_output=True,
        timeout=120,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode() == "a\ufffdb\n\npiped \ufffd\n"
    stderr = result.stderr.decode()
    assert "Traceback" not in stderr and "Warning" not in stderr
    assert stderr.count("U+FFFD") == 1 and stderr.startswith("kagura: The prompt held characters")


@pytest.mark.slow  # a real kernel
def test_a_cell_with_a_lone_surrogate_answers_with_one_note() -> None:
    kernel = Kernel()
    try:
        assert kernel.execute("%load_ext kagura_magic").status == "ok"
        assert kernel.execute("p = 'x\\ud800y'").status == "ok"
        run = kernel.execute("%%agent -m demo/echo --param tokens_per_second=0\nsay {{ p }}", timeout=90)
        again = kernel.execute("%%agent -m demo/echo --param tokens_per_second=0\nagain {{ p }}", timeout=90)
        history = kernel.execute("%agent history")
    finally:
        kernel.shutdown()
    assert run.status == "ok" and run.error is None, run.error
    assert run.stdout == UNENCODABLE_NOTE + "\n"
    assert "Traceback" not in run.stderr and "Warning" not in run.stderr
    final = run.final_display()
    assert final is not None and final["data"]["text/plain"] == "say x\ufffdy"
    assert again.status == "ok" and again.stdout == UNENCODABLE_NOTE + "\n"
    assert "2 exchange(s)" in history.stdout  # both were recorded: the history took the cleaned text


def test_the_note_is_short() -> None:
    assert len(UNENCODABLE_NOTE) < 160 and "\n" not in UNENCODABLE_NOTE
    assert llm.UNENCODABLE_NOTE is UNENCODABLE_NOTE
