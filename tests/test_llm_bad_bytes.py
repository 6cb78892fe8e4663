"""A provider that sends bytes that are not UTF-8: said in plain words, the partial answer kept.

litellm (through the openai SDK's SSE reader) raises a ``UnicodeDecodeError``
at the line that holds them, wrapped as a mid-stream 5xx; without care it
read as "'utf-8' codec can't decode byte 0xff in position 159", and before
the first token it was retried. The local server's ``bad-bytes`` scenario
sends two good chunks, then one with ``\\xff\\xfe`` in its text.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from kagura_magic.errors import ProviderError
from kagura_magic.llm import call_llm_stream
from kagura_magic.llm._diagnose import classify, is_retryable
from tests.openai_server import OpenAIServer, local_config

WORDS = "the provider sent bytes that are not UTF-8"


def test_a_decode_error_anywhere_in_the_chain_is_named_and_not_retried() -> None:
    try:
        try:
            b"ok \xff\xfe".decode()
        except UnicodeDecodeError as decode_error:
            raise ConnectionError("stream broke") from decode_error
    except ConnectionError as wrapped:
        error = classify(wrapped, model="m", partial_text="Good so far. ")
        assert not is_retryable(wrapped)
    assert type(error) is ProviderError
    assert WORDS in error.message and "codec" not in str(error) and "0xff" not in str(error)
    assert error.partial_text == "Good so far. " and "13 characters were received" in error.message
    assert len(str(error).splitlines()) == 2


def test_text_that_cannot_be_encoded_is_not_blamed_on_the_provider_nor_retried() -> None:
    try:
        "x\ud800".encode()
    except UnicodeEncodeError as exc:
        error = classify(exc, model="m")
        assert not is_retryable(exc)
    assert "cannot be encoded" in error.message and "surrogates" in error.hint


def test_the_stream_keeps_the_partial_answer_and_says_why(openai_server: OpenAIServer) -> None:
    stream = call_llm_stream("hi", local_config(openai_server, "bad-bytes"))
    pieces: list[str] = []
    with pytest.raises(ProviderError) as caught:
        for piece in stream:
            pieces.append(piece)
    error = caught.value
    assert "".join(pieces) == "Good so far. " == error.partial_text
    assert WORDS in str(error) and "codec" not in str(error)
    assert stream.stats.attempts == 1 and openai_server.count_scenario("bad-bytes") == 1


@pytest.mark.slow  # a CLI process that imports litellm
def test_the_cli_prints_the_partial_answer_and_one_plain_message(openai_server: OpenAIServer) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "kagura_magic",
            "-m",
            "openai/bad-bytes",
            "--api-base",
            openai_server.api_base,
            "hi",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "OPENAI_API_KEY": "sk-cli-test-bad-bytes"},
    )
    assert result.returncode == 1
    assert result.stdout == "Good so far. \n"
    assert WORDS in result.stderr and "codec" not in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 2
