"""The stream (kagura_magic/llm/_stream.py): one object, read with ``for`` or ``async for``.

Through litellm's real paths: the offline demo provider and the local server.
"""

from __future__ import annotations

import asyncio
import gc
import signal
import threading
import time

import pytest

from kagura_magic import llm
from kagura_magic.config import LLMConfig
from kagura_magic.errors import (
    IncompleteStreamError,
    LLMConnectionError,
    LLMTimeoutError,
    ProviderError,
)
from tests.openai_server import OpenAIServer, interrupt_once_requested, local_config

PROMPT = "Streaming works when every piece arrives in order, one after another."

local = local_config


def demo(model: str = "demo/echo", **extra: object) -> LLMConfig:
    return LLMConfig(model=model, extra={"tokens_per_second": 0, **extra})


# -- one object, both protocols -------------------------------------------------------
def test_for_yields_the_prompt_back() -> None:
    stream = llm.call_llm_stream(PROMPT, demo())
    pieces = list(stream)
    assert "".join(pieces) == PROMPT
    assert stream.text == PROMPT


async def test_async_for_yields_the_same_pieces_as_for() -> None:
    sync_pieces = await asyncio.to_thread(lambda: list(llm.call_llm_stream(PROMPT, demo())))
    stream = llm.call_llm_stream(PROMPT, demo())
    pieces = [piece async for piece in stream]
    assert pieces == sync_pieces and "".join(pieces) == PROMPT
    assert stream.stats.completion_tokens == len(pieces)


def test_the_sync_name_is_the_same_class() -> None:
    stream = llm.call_llm_stream(PROMPT, demo())
    assert llm.TextStream is llm.AsyncTextStream
    assert isinstance(stream, llm.TextStream)


def test_call_llm_stream_sync_is_a_deprecated_alias() -> None:
    with pytest.deprecated_call(match=r"for piece in call_llm_stream\(\.\.\.\)"):
        stream = llm.call_llm_stream_sync(PROMPT, demo())
    assert isinstance(stream, llm.AsyncTextStream)
    assert "".join(stream) == PROMPT


def test_stream_yields_many_token_sized_chunks() -> None:
    pieces = list(llm.call_llm_stream(PROMPT, demo()))
    assert len(pieces) >= len(PROMPT) // 6
    assert max(len(p.strip()) for p in pieces) <= 4


def test_empty_response_is_not_an_error() -> None:
    stream = llm.call_llm_stream("", demo())
    assert list(stream) == []
    assert stream.text == ""
    assert stream.stats.finish_reason == "stop"


def test_custom_config_reaches_the_provider(openai_server: OpenAIServer) -> None:
    config = local(openai_server, "ok", temperature=0.3, max_tokens=50, top_p=0.9, system_prompt="Be brief.")
    list(llm.call_llm_stream("hello", config))
    body = openai_server.requests[-1]
    assert body["temperature"] == 0.3 and body["max_tokens"] == 50 and body["top_p"] == 0.9
    assert body["messages"][0] == {"role": "system", "content": "Be brief."}
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}


def test_extra_params_pass_through_to_litellm(openai_server: OpenAIServer) -> None:
    config = local(openai_server, "ok", extra={"seed": 42, "presence_penalty": 0.5})
    list(llm.call_llm_stream("hello", config))
    assert openai_server.requests[-1]["seed"] == 42
    assert openai_server.requests[-1]["presence_penalty"] == 0.5


def test_rate_param_controls_pace() -> None:
    started = time.monotonic()
    list(llm.call_llm_stream("one two three four five six", demo(tokens_per_second=20)))
    assert time.monotonic() - started >= 5 / 20  # 6 pieces: 5 gaps at 20/s


def test_streaming_is_never_cached(openai_server: OpenAIServer) -> None:
    for _ in range(2):
        list(llm.call_llm_stream("same prompt", local(openai_server, "ok")))
    assert len(openai_server.requests) == 2


async def test_async_stream_against_server(openai_server: OpenAIServer) -> None:
    stream = llm.call_llm_stream(PROMPT, local(openai_server, "ok"))
    assert "".join([p async for p in stream]) == PROMPT
    assert stream.stats.prompt_tokens and stream.stats.completion_tokens


# -- accounting --------------------------------------------------------------------
def test_accounting_after_stream(openai_server: OpenAIServer) -> None:
    openai_server.chunk_delay = 0.01
    stream = llm.call_llm_stream(PROMPT, local(openai_server, "ok"))
    pieces = list(stream)
    stats = stream.stats
    assert stats.time_to_first_token is not None and 0 < stats.time_to_first_token < stats.duration
    assert stats.completion_tokens == len(pieces)  # the server's usage chunk
    assert stats.prompt_tokens is not None and stats.prompt_tokens > 0
    assert stats.tokens_per_second is not None and stats.tokens_per_second > 0
    assert stats.cost is None
    assert stats.finish_reason == "stop"
    assert stats.attempts == 1
    assert "openai/ok" in stats.summary() and "tok/s" in stats.summary()


def test_demo_cost_is_known_and_zero() -> None:
    stream = llm.call_llm_stream(PROMPT, demo())
    list(stream)
    assert stream.stats.cost == 0.0
    assert "$" not in stream.stats.summary(), "a free model shows no cost"


# -- an answer that stops early keeps what arrived --------------------------------------
def test_dropped_connection_keeps_partial_text_and_is_not_retried(openai_server: OpenAIServer) -> None:
    received: list[str] = []
    with pytest.raises(LLMConnectionError) as info:
        for piece in llm.call_llm_stream(PROMPT, local(openai_server, "drop")):
            received.append(piece)
    assert type(info.value) is LLMConnectionError
    assert received and info.value.partial_text == "".join(received)
    assert PROMPT.startswith(info.value.partial_text)
    assert len(openai_server.requests) == 1, "a retry after tokens would duplicate text"


def test_silently_truncated_stream_is_an_error(openai_server: OpenAIServer) -> None:
    stream = llm.call_llm_stream(PROMPT, local(openai_server, "drop-eof"))
    received: list[str] = []
    with pytest.raises(IncompleteStreamError) as info:
        for piece in stream:
            received.append(piece)
    assert info.value.partial_text == "".join(received) != ""
    assert "before the answer was complete" in str(info.value)
    assert f"({len(stream.text)} characters received)" in str(info.value)
    assert len(openai_server.requests) == 1


async def test_silently_truncated_async_stream_is_an_error(openai_server: OpenAIServer) -> None:
    stream = llm.call_llm_stream(PROMPT, local(openai_server, "drop-eof"))
    with pytest.raises(IncompleteStreamError) as info:
        async for _ in stream:
            pass
    assert info.value.partial_text == stream.text != ""


def test_a_json_answer_to_a_stream_request_says_the_server_did_not_stream(
    openai_server: OpenAIServer,
) -> None:
    with pytest.raises(LLMConnectionError) as info:
        list(llm.call_llm_stream(PROMPT, local(openai_server, "not-streamed")))
    assert type(info.value) is LLMConnectionError
    assert "answered without streaming" in str(info.value) and "--api-base" in info.value.hint
    assert len(openai_server.requests) == 1


def test_stall_times_out_and_keeps_partial(openai_server: OpenAIServer) -> None:
    openai_server.stall_seconds = 3
    started = time.monotonic()
    with pytest.raises(LLMTimeoutError) as info:
        list(llm.call_llm_stream(PROMPT, local(openai_server, "stall", timeout=0.5)))
    assert time.monotonic() - started < 2.5
    assert PROMPT.startswith(info.value.partial_text) and info.value.partial_text


def test_malformed_chunk_is_a_provider_error_with_partial(openai_server: OpenAIServer) -> None:
    with pytest.raises(ProviderError) as info:
        list(llm.call_llm_stream(PROMPT, local(openai_server, "malformed")))
    assert "malformed" in str(info.value)
    assert PROMPT.startswith(info.value.partial_text) and info.value.partial_text


# -- stopping: close, Ctrl-C, cancel, drop ---------------------------------------------------
def test_closing_the_sync_stream_closes_the_connection(openai_server: OpenAIServer) -> None:
    stream = llm.call_llm_stream(PROMPT * 20, local(openai_server, "slow"))
    iterator = iter(stream)
    first = [next(iterator) for _ in range(3)]
    stream.close()
    assert openai_server.disconnected.wait(3), "the server should see the client go away"
    assert stream.text == "".join(first), "nothing is read ahead of the caller"
    assert list(stream) == [], "a closed stream yields nothing more"


@pytest.mark.usefixtures("sigint_raises")
def test_keyboard_interrupt_closes_the_connection(openai_server: OpenAIServer) -> None:
    """KeyboardInterrupt raised while waiting for a piece (as SIGINT does) ends the stream."""
    openai_server.slow_delay = 0.2
    stream = llm.call_llm_stream(PROMPT * 20, local(openai_server, "slow"))
    received: list[str] = []
    # A real SIGINT to the main thread, once text flows (however long litellm's import
    # took): it lands in the wait between two chunks, as Ctrl-C does.
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


@pytest.mark.usefixtures("sigint_raises")
def test_keyboard_interrupt_while_the_provider_is_silent_closes_the_connection_at_once(
    openai_server: OpenAIServer,
) -> None:
    """The sync read waits on the I/O loop, so Ctrl-C needs no next chunk to take effect."""
    openai_server.stall_seconds = 30
    stream = llm.call_llm_stream(PROMPT, local(openai_server, "stall", timeout=60))
    interrupt_once_requested(openai_server, 1)
    received: list[str] = []
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        for piece in stream:
            received.append(piece)
    assert openai_server.disconnected.wait(3), "closed at once, not after the 30 s silence"
    assert time.monotonic() - started < 20
    assert received and stream.text == "".join(received)


async def test_cancelling_the_async_iterator_closes_the_connection(openai_server: OpenAIServer) -> None:
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


def test_a_stream_dropped_half_read_closes_its_connection(openai_server: OpenAIServer) -> None:
    stream = llm.call_llm_stream(PROMPT * 20, local(openai_server, "slow"))
    assert next(iter(stream))
    del stream
    gc.collect()
    assert openai_server.disconnected.wait(3)


# -- text the way it arrives ------------------------------------------------------------
def test_an_emoji_split_between_two_chunks_arrives_whole(openai_server: OpenAIServer) -> None:
    """JSON carries an emoji as two UTF-16 halves; a proxy may put them in two chunks.

    A lone half cannot be encoded as UTF-8: printing or sending it would fail.
    """
    stream = llm.call_llm_stream("hi", local(openai_server, "split-surrogate"))
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
    stream = llm.call_llm_stream("hi", local(openai_server, f"no-text-{finish}"))
    assert list(stream) == [] and stream.stats.finish_reason == finish
    message = str(llm.no_text_error(stream.model, finish))
    assert words in message and len(message.splitlines()) == 2
