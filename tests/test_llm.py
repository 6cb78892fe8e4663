"""The LLM layer, through litellm's real paths: the demo provider and a local HTTP server."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import threading
import time

import pytest

from kagura_magic import llm
from kagura_magic.config import LLMConfig
from kagura_magic.errors import (
    AgentError,
    AuthenticationError,
    IncompleteStreamError,
    LLMConnectionError,
    LLMTimeoutError,
    MissingAPIKeyError,
    ProviderError,
    RateLimitError,
    UnknownModelError,
)
from tests.openai_server import TEST_KEY, OpenAIServer, local_config

SECRET = TEST_KEY
PROMPT = "Streaming works when every piece arrives in order, one after another."


def demo(model: str = "demo/echo", **extra: object) -> LLMConfig:
    return LLMConfig(model=model, extra={"tokens_per_second": 0, **extra})


local = local_config


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    llm.clear_cache()


# -- the demo provider, through litellm ------------------------------------------
def test_stream_basic_yields_the_prompt_back() -> None:
    stream = llm.call_llm_stream_sync(PROMPT, demo())
    pieces = list(stream)
    assert "".join(pieces) == PROMPT
    assert stream.text == PROMPT


def test_stream_yields_many_token_sized_chunks() -> None:
    pieces = list(llm.call_llm_stream_sync(PROMPT, demo()))
    assert len(pieces) >= len(PROMPT) // 6
    assert max(len(p.strip()) for p in pieces) <= 4


def test_full_response_equals_joined_chunks() -> None:
    pieces = list(llm.call_llm_stream_sync("x", demo("demo/showcase")))
    complete = llm.call_llm("x", demo("demo/showcase"))
    assert "".join(pieces) == complete.content
    assert "| Region |" in complete.content


def test_empty_response_is_not_an_error() -> None:
    stream = llm.call_llm_stream_sync("", demo())
    assert list(stream) == []
    assert stream.text == ""
    assert stream.stats.finish_reason == "stop"


def test_custom_config_reaches_the_provider(openai_server: OpenAIServer) -> None:
    config = local(openai_server, "ok", temperature=0.3, max_tokens=50, top_p=0.9, system_prompt="Be brief.")
    list(llm.call_llm_stream_sync("hello", config))
    body = openai_server.requests[-1]
    assert body["temperature"] == 0.3 and body["max_tokens"] == 50 and body["top_p"] == 0.9
    assert body["messages"][0] == {"role": "system", "content": "Be brief."}
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}


def test_extra_params_pass_through_to_litellm(openai_server: OpenAIServer) -> None:
    config = local(openai_server, "ok", extra={"seed": 42, "presence_penalty": 0.5})
    list(llm.call_llm_stream_sync("hello", config))
    assert openai_server.requests[-1]["seed"] == 42
    assert openai_server.requests[-1]["presence_penalty"] == 0.5


def test_rate_param_controls_pace() -> None:
    started = time.monotonic()
    list(llm.call_llm_stream_sync("one two three four five six", demo(tokens_per_second=20)))
    assert time.monotonic() - started >= 5 / 20  # 6 pieces: 5 gaps at 20/s


def test_streaming_is_never_cached(openai_server: OpenAIServer) -> None:
    for _ in range(2):
        list(llm.call_llm_stream_sync("same prompt", local(openai_server, "ok")))
    assert len(openai_server.requests) == 2


def test_call_llm_is_cached_with_ttl(openai_server: OpenAIServer) -> None:
    first = llm.call_llm("same prompt", local(openai_server, "ok"))
    second = llm.call_llm("same prompt", local(openai_server, "ok"))
    assert (first.cached, second.cached) == (False, True)
    assert second.content == first.content == "same prompt"
    assert len(openai_server.requests) == 1
    llm.call_llm("same prompt", local(openai_server, "ok", temperature=0.5))
    assert len(openai_server.requests) == 2, "a different temperature is a different answer"
    llm.call_llm("short-lived", local(openai_server, "ok", cache_ttl=0.0))
    llm.call_llm("short-lived", local(openai_server, "ok", cache_ttl=0.0))
    assert len(openai_server.requests) == 4, "an expired entry is not served"
    assert not llm.call_llm("uncached", local(openai_server, "ok", enable_cache=False)).cached
    assert not llm.call_llm("uncached", local(openai_server, "ok", enable_cache=False)).cached


def test_call_llm_response_fields(openai_server: OpenAIServer) -> None:
    response = llm.call_llm("count these words please", local(openai_server, "ok"))
    assert response.content == "count these words please"
    assert response.usage["completion_tokens"] > 0
    assert response.duration > 0
    assert response.cost is None  # openai/<custom> is unmapped: None, not an exception
    assert str(response) == response.content


async def test_async_iteration() -> None:
    stream = llm.call_llm_stream(PROMPT, demo())
    pieces = [piece async for piece in stream]
    assert "".join(pieces) == PROMPT
    assert stream.stats.completion_tokens == len(pieces)


async def test_async_stream_against_server(openai_server: OpenAIServer) -> None:
    stream = llm.call_llm_stream(PROMPT, local(openai_server, "ok"))
    assert "".join([p async for p in stream]) == PROMPT
    assert stream.stats.prompt_tokens and stream.stats.completion_tokens


async def test_acall_llm_shares_the_cache(openai_server: OpenAIServer) -> None:
    first = await llm.acall_llm("async cached", local(openai_server, "ok"))
    second = llm.call_llm("async cached", local(openai_server, "ok"))
    assert first.content == "async cached" and second.cached


# -- accounting --------------------------------------------------------------------
def test_accounting_after_stream(openai_server: OpenAIServer) -> None:
    openai_server.chunk_delay = 0.01
    stream = llm.call_llm_stream_sync(PROMPT, local(openai_server, "ok"))
    pieces = list(stream)
    stats = stream.stats
    assert stats.time_to_first_token is not None and 0 < stats.time_to_first_token < stats.duration
    assert stats.completion_tokens == len(pieces)  # the server's usage chunk
    assert stats.prompt_tokens is not None and stats.prompt_tokens > 0
    assert stats.tokens_per_second is not None and stats.tokens_per_second > 0
    assert stats.cost is None
    assert stats.finish_reason == "stop"
    assert "openai/ok" in stats.summary() and "tok/s" in stats.summary()


def test_demo_cost_is_known_and_zero() -> None:
    stream = llm.call_llm_stream_sync(PROMPT, demo())
    list(stream)
    assert stream.stats.cost == 0.0
    assert "$" not in stream.stats.summary(), "a free model shows no cost"


# -- errors ------------------------------------------------------------------------
def test_missing_api_key_names_the_variable() -> None:
    with pytest.raises(MissingAPIKeyError) as info:
        list(llm.call_llm_stream_sync("hi", LLMConfig(model="gpt-4o-mini")))
    assert "OPENAI_API_KEY" in str(info.value)
    assert len(str(info.value).splitlines()) <= 2


def test_unknown_model_suggests_close_names() -> None:
    with pytest.raises(UnknownModelError) as info:
        list(llm.call_llm_stream_sync("hi", LLMConfig(model="gpt-4o-mni")))
    assert "gpt-4o-mini" in str(info.value)


def test_unknown_demo_model_lists_demo_models() -> None:
    with pytest.raises(UnknownModelError, match="demo/showcase"):
        list(llm.call_llm_stream_sync("hi", LLMConfig(model="demo/nope")))


def test_authentication_error_never_shows_the_key(openai_server: OpenAIServer) -> None:
    with pytest.raises(AuthenticationError) as info:
        list(llm.call_llm_stream_sync("hi", local(openai_server, "status-401")))
    assert SECRET not in str(info.value) and SECRET not in repr(info.value)
    assert "Incorrect API key" in str(info.value)
    assert len(openai_server.requests) == 1, "401 is not retried"


def test_rate_limit_then_success_is_retried(openai_server: OpenAIServer) -> None:
    stream = llm.call_llm_stream_sync(PROMPT, local(openai_server, "flaky-429"))
    assert "".join(stream) == PROMPT
    assert stream.stats.attempts == 2
    assert len(openai_server.requests) == 2


def test_rate_limit_exhausting_retries(openai_server: OpenAIServer) -> None:
    openai_server.flaky_failures = 10
    with pytest.raises(RateLimitError):
        list(llm.call_llm_stream_sync("hi", local(openai_server, "flaky-429", max_retries=1)))
    assert len(openai_server.requests) == 2


def test_server_error_retried_then_reported(openai_server: OpenAIServer) -> None:
    with pytest.raises(ProviderError) as info:
        list(llm.call_llm_stream_sync("hi", local(openai_server, "status-500")))
    assert len(openai_server.requests) == 3  # first try + max_retries=2
    assert "server had an error" in str(info.value)


def test_dropped_connection_keeps_partial_text_and_is_not_retried(
    openai_server: OpenAIServer,
) -> None:
    received: list[str] = []
    with pytest.raises(LLMConnectionError) as info:
        for piece in llm.call_llm_stream_sync(PROMPT, local(openai_server, "drop")):
            received.append(piece)
    assert received and info.value.partial_text == "".join(received)
    assert PROMPT.startswith(info.value.partial_text)
    assert len(openai_server.requests) == 1, "a retry after tokens would duplicate text"


def test_silently_truncated_stream_is_an_error(openai_server: OpenAIServer) -> None:
    stream = llm.call_llm_stream_sync(PROMPT, local(openai_server, "drop-eof"))
    received: list[str] = []
    with pytest.raises(IncompleteStreamError) as info:
        for piece in stream:
            received.append(piece)
    assert info.value.partial_text == "".join(received) != ""
    assert "before the answer was complete" in str(info.value)


def test_stall_times_out_and_keeps_partial(openai_server: OpenAIServer) -> None:
    openai_server.stall_seconds = 3
    started = time.monotonic()
    with pytest.raises(LLMTimeoutError) as info:
        list(llm.call_llm_stream_sync(PROMPT, local(openai_server, "stall", timeout=0.5)))
    assert time.monotonic() - started < 2.5
    assert PROMPT.startswith(info.value.partial_text) and info.value.partial_text


def test_malformed_chunk_is_a_provider_error_with_partial(openai_server: OpenAIServer) -> None:
    with pytest.raises(ProviderError) as info:
        list(llm.call_llm_stream_sync(PROMPT, local(openai_server, "malformed")))
    assert "malformed" in str(info.value)
    assert PROMPT.startswith(info.value.partial_text) and info.value.partial_text


def test_connection_refused_is_a_connection_error() -> None:
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = LLMConfig(
        model="openai/ok",
        api_base=f"http://127.0.0.1:{port}/v1",
        api_key=SECRET,
        max_retries=1,
        retry_backoff=0.01,
    )
    with pytest.raises(LLMConnectionError) as info:
        list(llm.call_llm_stream_sync("hi", config))
    assert info.value.partial_text == ""
    assert SECRET not in str(info.value)


def test_every_error_is_short() -> None:
    for error in (
        MissingAPIKeyError("gpt-4o-mini", ["OPENAI_API_KEY"]),
        AuthenticationError("x"),
        LLMTimeoutError("x"),
    ):
        assert isinstance(error, AgentError)
        assert 1 <= len(str(error).splitlines()) <= 2


# -- cancellation --------------------------------------------------------------------
def test_closing_the_sync_stream_closes_the_connection(openai_server: OpenAIServer) -> None:
    stream = llm.call_llm_stream_sync(PROMPT * 20, local(openai_server, "slow"))
    iterator = iter(stream)
    first = [next(iterator) for _ in range(3)]
    stream.close()
    assert openai_server.disconnected.wait(3), "the server should see the client go away"
    assert stream.text == "".join(first)


@pytest.mark.usefixtures("sigint_raises")
def test_keyboard_interrupt_closes_the_connection(openai_server: OpenAIServer) -> None:
    """KeyboardInterrupt raised inside the blocking read (as SIGINT does) ends the stream."""
    openai_server.slow_delay = 0.2
    stream = llm.call_llm_stream_sync(PROMPT * 20, local(openai_server, "slow"))
    received: list[str] = []
    # A real SIGINT to the main thread, once text flows (however long litellm's import
    # took): it lands in the blocking read between two chunks, as Ctrl-C does.
    main = threading.main_thread().ident
    assert main is not None
    timer = threading.Timer(0.3, signal.pthread_kill, (main, signal.SIGINT))
    with pytest.raises(KeyboardInterrupt), stream:
        for piece in stream:
            received.append(piece)
            if timer.ident is None:
                timer.start()
    timer.cancel()
    assert received, "some text arrived before the interrupt"
    assert stream.text == "".join(received)
    assert openai_server.disconnected.wait(3)


async def test_cancelling_the_async_iterator_closes_the_connection(
    openai_server: OpenAIServer,
) -> None:
    stream = llm.call_llm_stream(PROMPT * 20, local(openai_server, "slow"))

    async def consume() -> None:
        async for _ in stream:
            pass

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.4)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await stream.aclose()
    assert await asyncio.to_thread(openai_server.disconnected.wait, 3)
    assert stream.text and (PROMPT * 20).startswith(stream.text)


# -- litellm hygiene ------------------------------------------------------------------
def test_import_does_not_import_litellm() -> None:
    code = "import sys, kagura_magic; print('litellm' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_no_litellm_banners_or_warnings_on_errors(openai_server: OpenAIServer) -> None:
    code = f"""
import sys
sys.path.insert(0, {str(__import__("pathlib").Path(__file__).parents[1])!r})
from kagura_magic import llm
from kagura_magic.config import LLMConfig
cfg = LLMConfig(model="openai/status-401", api_base={openai_server.api_base!r}, api_key="sk-x-123456")
try:
    list(llm.call_llm_stream_sync("hi", cfg))
except Exception as e:
    print("ERR", type(e).__name__)
list(llm.call_llm_stream_sync("hi", LLMConfig(model="demo/echo", extra={{"tokens_per_second": 0}})))
import os; print("LOCAL", os.environ.get("LITELLM_LOCAL_MODEL_COST_MAP"))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.split() == ["ERR", "AuthenticationError", "LOCAL", "True"]
    assert result.stderr == ""


# -- text the way it arrives ------------------------------------------------------------
def test_an_emoji_split_between_two_chunks_arrives_whole(openai_server: OpenAIServer) -> None:
    """JSON carries an emoji as two UTF-16 halves; a proxy may put them in two chunks.

    A lone half cannot be encoded as UTF-8: printing or sending it would fail.
    """
    stream = llm.call_llm_stream_sync("hi", local(openai_server, "split-surrogate"))
    pieces = list(stream)
    assert "".join(pieces) == stream.text == "A\U0001f389B"
    assert all(piece.encode("utf-8") for piece in pieces)


@pytest.mark.parametrize(
    ("finish", "words"),
    [
        ("tool_calls", "tool call"),
        ("length", "--max-tokens"),
        ("content_filter", "content filter"),
        ("stop", "empty answer"),
    ],
)
def test_an_answer_without_text_is_explained(openai_server: OpenAIServer, finish: str, words: str) -> None:
    """The API returns the empty text as it is; views show why it is empty."""
    stream = llm.call_llm_stream_sync("hi", local(openai_server, f"no-text-{finish}"))
    assert list(stream) == [] and stream.stats.finish_reason == finish
    message = str(llm.no_text_error(stream.model, finish))
    assert words in message and len(message.splitlines()) == 2
