"""The one retry loop (kagura_magic/llm/_retry.py): what is retried, how long it waits, and when never.

The rules with exceptions built here; then every call site (the stream, both
protocols, and complete answers) through litellm against the local server.
"""

from __future__ import annotations

import itertools
import time

import httpx
import pytest

from kagura_magic import llm
from kagura_magic.errors import LLMTimeoutError, ProviderError, RateLimitError
from kagura_magic.llm._retry import MAX_RETRY_AFTER, retry_delay, with_retries
from tests.openai_server import OpenAIServer, local_config
from tests.test_llm_diagnose import assert_short_and_clean

PROMPT = "Retries happen before the first token only."

local = local_config


class Rejected(Exception):
    """A 400 as litellm's exceptions carry it."""

    status_code = 400


class Overloaded(Exception):
    """A 503 as litellm's exceptions carry it."""

    status_code = 503


class RateLimited(Exception):
    """A 429 whose provider asked for a wait."""

    status_code = 429

    def __init__(self, seconds: float) -> None:
        super().__init__("slow down")
        self.litellm_response_headers = {"Retry-After": str(seconds)}


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    llm.clear_cache()


def gaps(server: OpenAIServer, scenario: str, since: float) -> list[float]:
    times = [t for name, t in server.arrivals if name == scenario and t >= since]
    return [later - earlier for earlier, later in itertools.pairwise(times)]


# -- the rules -------------------------------------------------------------------------------
def test_backoff_doubles_with_a_little_jitter() -> None:
    for attempt in range(3):
        delay = retry_delay(attempt, Overloaded(), max_retries=5, backoff=0.5)
        assert delay is not None and 0.5 * 2**attempt <= delay <= 0.55 * 2**attempt


def test_the_providers_wait_is_honoured_up_to_a_cap() -> None:
    assert retry_delay(0, RateLimited(2), max_retries=2, backoff=0.5) == 2
    assert retry_delay(0, RateLimited(600), max_retries=2, backoff=0.5) == MAX_RETRY_AFTER


def test_no_retry_past_max_retries_or_for_a_final_answer() -> None:
    assert retry_delay(2, Overloaded(), max_retries=2, backoff=0.5) is None
    assert retry_delay(0, Overloaded(), max_retries=0, backoff=0.5) is None
    assert retry_delay(0, Rejected(), max_retries=2, backoff=0.5) is None
    assert retry_delay(0, httpx.ReadTimeout("timed out"), max_retries=2, backoff=0.5) is None


async def test_with_retries_tries_again_then_returns() -> None:
    failures = [Overloaded(), httpx.ConnectError("refused")]
    attempts: list[int] = []
    released: list[int] = []

    async def attempt() -> str:
        if failures:
            raise failures.pop(0)
        return "answer"

    async def release() -> None:
        released.append(len(attempts))

    result = await with_retries(
        attempt, max_retries=2, backoff=0.001, on_attempt=attempts.append, after_failure=release
    )
    assert result == "answer"
    assert attempts == [1, 2, 3] and released == [1, 2]


async def test_with_retries_raises_the_last_error_when_it_must_stop() -> None:
    attempts: list[int] = []

    async def attempt() -> str:
        raise Rejected("no")

    with pytest.raises(Rejected):
        await with_retries(attempt, max_retries=5, backoff=0.001, on_attempt=attempts.append)
    assert attempts == [1], "a final answer is not retried"


# -- the stream, read with for ---------------------------------------------------------------
def test_rate_limit_then_success_is_retried(openai_server: OpenAIServer) -> None:
    stream = llm.call_llm_stream(PROMPT, local(openai_server, "flaky-429"))
    assert "".join(stream) == PROMPT
    assert stream.stats.attempts == 2
    assert len(openai_server.requests) == 2


def test_rate_limit_exhausting_retries(openai_server: OpenAIServer) -> None:
    openai_server.flaky_failures = 10
    with pytest.raises(RateLimitError):
        list(llm.call_llm_stream("hi", local(openai_server, "flaky-429", max_retries=1)))
    assert len(openai_server.requests) == 2


@pytest.mark.slow  # waits out the Retry-After the server asks for
@pytest.mark.parametrize(
    ("scenario", "at_least"),
    [("retry-after-1", 0.9), ("retry-after-date-1", 0.9), ("retry-after-ms-700", 0.6)],
)
def test_retry_after_is_honoured(openai_server: OpenAIServer, scenario: str, at_least: float) -> None:
    started = time.monotonic()
    stream = llm.call_llm_stream(PROMPT, local(openai_server, scenario))
    assert "".join(stream) == PROMPT
    assert len(openai_server.requests) == 2 and stream.stats.attempts == 2
    (gap,) = gaps(openai_server, scenario, started)
    assert gap >= at_least, f"retried after {gap:.2f} s, the server asked for more"


def test_rate_limit_after_the_last_retry_says_how_long_to_wait(openai_server: OpenAIServer) -> None:
    openai_server.flaky_failures = 10
    with pytest.raises(RateLimitError) as info:
        list(llm.call_llm_stream("hi", local(openai_server, "retry-after-1", max_retries=0)))
    assert type(info.value) is RateLimitError
    assert "429" in str(info.value) and "1 s" in info.value.hint
    assert_short_and_clean(info.value)
    assert len(openai_server.requests) == 1


def test_headers_then_silence_times_out_without_retry(openai_server: OpenAIServer) -> None:
    with pytest.raises(LLMTimeoutError) as info:
        list(llm.call_llm_stream("hi", local(openai_server, "silent", timeout=0.5)))
    assert "0.5 s" in str(info.value) and "--timeout" in info.value.hint
    assert not info.value.message.rstrip().endswith(":")
    assert_short_and_clean(info.value)
    assert len(openai_server.requests) == 1, "a timeout is not retried: it would triple the wait"


def test_in_band_client_error_is_not_retried(openai_server: OpenAIServer) -> None:
    with pytest.raises(ProviderError) as info:
        list(llm.call_llm_stream("hi", local(openai_server, "inband-400")))
    assert "rejected by the safety system" in info.value.message and "400" in info.value.message
    assert "try again" not in info.value.hint
    assert_short_and_clean(info.value)
    assert len(openai_server.requests) == 1


def test_in_band_server_error_is_retried(openai_server: OpenAIServer) -> None:
    with pytest.raises(ProviderError) as info:
        list(llm.call_llm_stream("hi", local(openai_server, "inband-503")))
    assert "overloaded" in info.value.message
    assert_short_and_clean(info.value)
    assert len(openai_server.requests) == 3  # first try + max_retries=2


# -- the stream, read with async for -------------------------------------------------------------
@pytest.mark.slow  # waits out the Retry-After the server asks for
async def test_retry_after_is_honoured_by_the_async_stream(openai_server: OpenAIServer) -> None:
    started = time.monotonic()
    stream = llm.call_llm_stream(PROMPT, local(openai_server, "retry-after-1"))
    assert "".join([piece async for piece in stream]) == PROMPT
    (gap,) = gaps(openai_server, "retry-after-1", started)
    assert gap >= 0.9


async def test_headers_then_silence_times_out_without_retry_async(openai_server: OpenAIServer) -> None:
    stream = llm.call_llm_stream("hi", local(openai_server, "silent", timeout=0.5))
    with pytest.raises(LLMTimeoutError):
        async for _ in stream:
            pass
    assert len(openai_server.requests) == 1
    assert stream.stats.attempts == 1


# -- complete answers, through the same helper ---------------------------------------------------
def test_complete_answers_are_retried_the_same_way(openai_server: OpenAIServer) -> None:
    response = llm.call_llm(PROMPT, local(openai_server, "flaky-429"))
    assert response.content == PROMPT
    assert len(openai_server.requests) == 2
    with pytest.raises(ProviderError):
        llm.call_llm("hi", local(openai_server, "status-500"))
    assert len(openai_server.requests) == 5  # and then first try + max_retries=2


@pytest.mark.slow  # waits out the Retry-After the server asks for
async def test_async_complete_answers_honour_retry_after(openai_server: OpenAIServer) -> None:
    started = time.monotonic()
    response = await llm.acall_llm(PROMPT, local(openai_server, "retry-after-1"))
    assert response.content == PROMPT
    (gap,) = gaps(openai_server, "retry-after-1", started)
    assert gap >= 0.9
