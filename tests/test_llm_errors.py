"""What a user sees when a provider (or the proxy in front of it) fails, and what is retried.

Each fault is produced by the local server (``tests/openai_server.py``) the way real
providers, nginx, Cloudflare and vLLM produce it, so litellm's real paths run.
"""

from __future__ import annotations

import itertools
import time

import pytest

from kagura_magic import llm
from kagura_magic.errors import (
    AgentError,
    AuthenticationError,
    LLMTimeoutError,
    ProviderError,
    RateLimitError,
    UnknownModelError,
)
from tests.openai_server import TEST_KEY, OpenAIServer, local_config

SECRET = TEST_KEY
PROMPT = "Retries happen before the first token only."


local = local_config


def fail(server: OpenAIServer, scenario: str, **fields: object) -> AgentError:
    """The error a stream of ``scenario`` ends with."""
    with pytest.raises(AgentError) as info:
        list(llm.call_llm_stream_sync("hi", local(server, scenario, **fields)))
    return info.value


def assert_short_and_clean(error: AgentError) -> None:
    """One or two plain lines: no markup, no Python repr, no key."""
    text = str(error)
    assert 1 <= len(text.splitlines()) <= 2, text
    assert len(text) <= 400, text
    for fragment in ("<", ">", "{", "}", "[", "]", "Error code:", "Exception -", SECRET):
        assert fragment not in text, f"{fragment!r} in {text!r}"


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    llm.clear_cache()


def gaps(server: OpenAIServer, scenario: str, since: float) -> list[float]:
    times = [t for name, t in server.arrivals if name == scenario and t >= since]
    return [later - earlier for earlier, later in itertools.pairwise(times)]


# -- 1. Retry-After is honoured (seconds, HTTP-date, retry-after-ms) ----------------------
@pytest.mark.parametrize(
    ("scenario", "at_least"),
    [("retry-after-1", 0.9), ("retry-after-date-1", 0.9), ("retry-after-ms-700", 0.6)],
)
def test_retry_after_is_honoured(openai_server: OpenAIServer, scenario: str, at_least: float) -> None:
    started = time.monotonic()
    stream = llm.call_llm_stream_sync(PROMPT, local(openai_server, scenario))
    assert "".join(stream) == PROMPT
    assert len(openai_server.requests) == 2 and stream.stats.attempts == 2
    (gap,) = gaps(openai_server, scenario, started)
    assert gap >= at_least, f"retried after {gap:.2f} s, the server asked for more"


async def test_retry_after_is_honoured_by_the_async_stream(openai_server: OpenAIServer) -> None:
    started = time.monotonic()
    stream = llm.call_llm_stream(PROMPT, local(openai_server, "retry-after-1"))
    assert "".join([piece async for piece in stream]) == PROMPT
    (gap,) = gaps(openai_server, "retry-after-1", started)
    assert gap >= 0.9


def test_rate_limit_after_the_last_retry_says_how_long_to_wait(openai_server: OpenAIServer) -> None:
    openai_server.flaky_failures = 10
    error = fail(openai_server, "retry-after-1", max_retries=0)
    assert type(error) is RateLimitError
    assert "429" in str(error) and "1 s" in error.hint
    assert_short_and_clean(error)
    assert len(openai_server.requests) == 1


# -- 2. a provider that sends headers and then nothing is not retried --------------------
def test_headers_then_silence_times_out_without_retry(openai_server: OpenAIServer) -> None:
    error = fail(openai_server, "silent", timeout=0.5)
    assert isinstance(error, LLMTimeoutError)
    assert "0.5 s" in str(error)
    assert_short_and_clean(error)
    assert len(openai_server.requests) == 1, "a timeout is not retried: it would triple the wait"


async def test_headers_then_silence_times_out_without_retry_async(openai_server: OpenAIServer) -> None:
    stream = llm.call_llm_stream("hi", local(openai_server, "silent", timeout=0.5))
    with pytest.raises(LLMTimeoutError):
        async for _ in stream:
            pass
    assert len(openai_server.requests) == 1
    assert stream.stats.attempts == 1


# -- 3. HTML pages, FastAPI bodies and tracebacks become one clean line ---------------------
@pytest.mark.parametrize(
    ("scenario", "kind", "must_contain", "requests"),
    [
        ("html-502", ProviderError, ["HTTP 502 Bad Gateway"], 3),
        ("cloudflare-502", ProviderError, ["HTTP 502 Bad Gateway", "api.example.com | 502: Bad gateway"], 3),
        (
            "validation-422",
            ProviderError,
            ["HTTP 422 Unprocessable", "messages.0.content: field required"],
            1,
        ),
        ("traceback-500", ProviderError, ["RuntimeError: CUDA out of memory", "HTTP 500"], 3),
    ],
)
def test_error_bodies_are_summarised(
    openai_server: OpenAIServer, scenario: str, kind: type[AgentError], must_contain: list[str], requests: int
) -> None:
    error = fail(openai_server, scenario)
    assert isinstance(error, kind), repr(error)
    for fragment in must_contain:
        assert fragment in error.message, error.message
    assert "Traceback" not in str(error) and "nginx" not in str(error)
    assert_short_and_clean(error)
    assert len(openai_server.requests) == requests


@pytest.mark.parametrize("scenario", ["html-404", "detail-404"])
def test_404_that_does_not_name_the_model_points_at_the_api_base(
    openai_server: OpenAIServer, scenario: str
) -> None:
    error = fail(openai_server, scenario)
    assert isinstance(error, UnknownModelError)
    assert "HTTP 404 Not Found" in error.message and "Not Found'" not in error.message
    assert "--api-base" in error.hint and "/v1" in error.hint
    assert_short_and_clean(error)
    assert len(openai_server.requests) == 1


def test_404_naming_the_model_still_points_at_the_model_name(openai_server: OpenAIServer) -> None:
    error = fail(openai_server, "status-404")
    assert isinstance(error, UnknownModelError)
    assert "The model does not exist" in error.message
    assert error.hint == UnknownModelError.default_hint
    assert_short_and_clean(error)


def test_complete_answers_get_the_same_clean_messages(openai_server: OpenAIServer) -> None:
    with pytest.raises(UnknownModelError) as info:
        llm.call_llm("hi", local(openai_server, "detail-404"))
    assert "--api-base" in info.value.hint
    assert_short_and_clean(info.value)


# -- 4. an exhausted quota is not a rate limit: no retry, no "wait a moment" ----------------
def test_insufficient_quota_is_not_retried_and_points_to_billing(openai_server: OpenAIServer) -> None:
    error = fail(openai_server, "quota-429")
    assert isinstance(error, RateLimitError)  # still a RateLimitError for code that catches those
    assert "quota" in error.message and "429" in error.message
    assert "billing" in error.hint and "wait a moment" not in error.hint.lower()
    assert_short_and_clean(error)
    assert len(openai_server.requests) == 1


# -- 5. 403 is a permission error --------------------------------------------------------------
def test_forbidden_is_a_permission_error_and_not_retried(openai_server: OpenAIServer) -> None:
    error = fail(openai_server, "forbidden-403")
    assert isinstance(error, AuthenticationError)
    assert "HTTP 403 Forbidden" in error.message and "region" in error.message
    assert "permission" in error.hint and "region" in error.hint
    assert "try again" not in str(error)
    assert_short_and_clean(error)
    assert len(openai_server.requests) == 1


# -- 6. in-band errors before the first token: 4xx is final, 5xx is retried --------------------
def test_in_band_client_error_is_not_retried(openai_server: OpenAIServer) -> None:
    error = fail(openai_server, "inband-400")
    assert isinstance(error, ProviderError)
    assert "rejected by the safety system" in error.message and "400" in error.message
    assert "try again" not in error.hint
    assert_short_and_clean(error)
    assert len(openai_server.requests) == 1


def test_in_band_server_error_is_retried(openai_server: OpenAIServer) -> None:
    error = fail(openai_server, "inband-503")
    assert isinstance(error, ProviderError)
    assert "overloaded" in error.message
    assert_short_and_clean(error)
    assert len(openai_server.requests) == 3  # first try + max_retries=2
