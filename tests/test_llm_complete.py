"""Complete answers and their cache (kagura_magic/llm/_complete.py)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from kagura_magic import llm
from kagura_magic.config import LLMConfig
from kagura_magic.llm._complete import TTLCache
from kagura_magic.llm._types import LLMResponse
from tests.openai_server import OpenAIServer, interrupt_once_requested, local_config

local = local_config


def demo(model: str = "demo/echo") -> LLMConfig:
    return LLMConfig(model=model, extra={"tokens_per_second": 0})


def answer(text: str) -> LLMResponse:
    return LLMResponse(content=text, model="m", usage={}, duration=0.0, cost=None)


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    llm.clear_cache()


def test_full_response_equals_joined_chunks() -> None:
    pieces = list(llm.call_llm_stream("x", demo("demo/showcase")))
    complete = llm.call_llm("x", demo("demo/showcase"))
    assert "".join(pieces) == complete.content
    assert "| Region |" in complete.content


def test_call_llm_response_fields(openai_server: OpenAIServer) -> None:
    response = llm.call_llm("count these words please", local(openai_server, "ok"))
    assert response.content == "count these words please"
    assert response.usage["completion_tokens"] > 0
    assert response.duration > 0
    assert response.cost is None  # openai/<custom> is unmapped: None, not an exception
    assert response.finish_reason == "stop"
    assert str(response) == response.content


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


def test_extra_litellm_arguments_bypass_the_cache(openai_server: OpenAIServer) -> None:
    llm.call_llm("same prompt", local(openai_server, "ok"))
    assert not llm.call_llm("same prompt", local(openai_server, "ok"), seed=1).cached
    assert openai_server.requests[-1]["seed"] == 1
    assert len(openai_server.requests) == 2


async def test_acall_llm_shares_the_cache(openai_server: OpenAIServer) -> None:
    first = await llm.acall_llm("async cached", local(openai_server, "ok"))
    second = await asyncio.to_thread(llm.call_llm, "async cached", local(openai_server, "ok"))
    assert first.content == "async cached" and second.cached


def test_call_llm_works_where_an_event_loop_is_running() -> None:
    """As in a kernel, where ``asyncio.run`` would fail: the sync call waits on the I/O loop."""

    async def inside_a_loop() -> str:
        return llm.call_llm("from a running loop", demo()).content

    assert asyncio.run(inside_a_loop()) == "from a running loop"


def test_call_llm_on_the_io_loop_itself_is_refused() -> None:
    async def on_the_loop() -> object:
        return llm.call_llm("hi", demo())

    future = asyncio.run_coroutine_threadsafe(on_the_loop(), llm.io_loop())
    with pytest.raises(RuntimeError, match="await the async one"):
        future.result(timeout=10)


@pytest.mark.usefixtures("sigint_raises")
def test_ctrl_c_while_waiting_cancels_the_request(openai_server: OpenAIServer) -> None:
    openai_server.stall_seconds = 30
    interrupt_once_requested(openai_server, 1)
    with pytest.raises(KeyboardInterrupt):
        llm.call_llm("hi", local(openai_server, "silent", timeout=60))
    assert openai_server.disconnected.wait(3), "the request was cancelled, not left running"


# -- the cache itself ----------------------------------------------------------------------
def test_the_cache_holds_at_most_max_entries_and_drops_the_least_recently_used() -> None:
    cache = TTLCache(max_entries=2)
    cache.put("a", answer("A"), ttl=60)
    cache.put("b", answer("B"), ttl=60)
    assert cache.get("a") is not None  # "a" is now the most recently used
    cache.put("c", answer("C"), ttl=60)
    assert len(cache) == 2
    assert cache.get("b") is None and cache.get("a") is not None and cache.get("c") is not None


def test_an_expired_entry_is_gone() -> None:
    cache = TTLCache(max_entries=2)
    cache.put("a", answer("A"), ttl=0.0)
    assert cache.get("a") is None and len(cache) == 0


def test_the_cache_is_safe_to_share_between_threads() -> None:
    cache = TTLCache(max_entries=50)
    errors: list[BaseException] = []

    def hammer(thread: int) -> None:
        try:
            for i in range(500):
                cache.put(f"{thread}-{i}", answer(str(i)), ttl=60)
                cache.get(f"{thread}-{i // 2}")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=hammer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(cache) == 50
