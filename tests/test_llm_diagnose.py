"""What a user reads when a call fails (kagura_magic/llm/_diagnose.py).

First ``classify`` as the pure function it is: exception objects built here, the
way the openai SDK, httpx and litellm build them, and no server. Then the same
rules through the real path: litellm against the local server
(``tests/openai_server.py``), which fails the way real providers, nginx,
Cloudflare and vLLM fail.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from kagura_magic import llm
from kagura_magic.config import LLMConfig
from kagura_magic.errors import (
    AgentError,
    AuthenticationError,
    ContextWindowError,
    IncompleteStreamError,
    LLMConnectionError,
    LLMTimeoutError,
    MissingAPIKeyError,
    PermissionDeniedError,
    ProviderError,
    QuotaExceededError,
    RateLimitError,
    UnknownModelError,
)
from kagura_magic.llm._diagnose import (
    classify,
    ended_without_finish,
    is_retryable,
    retry_after_seconds,
    unfinished_error,
)
from tests.openai_server import TEST_KEY, OpenAIServer, local_config

try:  # the HTTP package the openai SDK builds its responses with (httpx2 since openai 3)
    import httpx2 as sdk_httpx
except ImportError:  # pragma: no cover - older openai SDKs
    sdk_httpx = httpx

SECRET = TEST_KEY
MODEL = "openai/some-model"
PROMPT = "Errors keep what was streamed."

local = local_config


def status_error(
    status: int,
    body: Any = None,
    *,
    kind: type[openai.APIStatusError] = openai.APIStatusError,
    headers: dict[str, str] | None = None,
    text: str | None = None,
) -> openai.APIStatusError:
    """An HTTP error as the openai SDK raises it: the response, and the body's ``error`` object."""
    request = sdk_httpx.Request("POST", "https://api.example.com/v1/chat/completions")
    if text is not None:
        response = sdk_httpx.Response(status, text=text, headers=headers, request=request)
    else:
        response = sdk_httpx.Response(status, json=body, headers=headers, request=request)
    inner = body.get("error", body) if isinstance(body, dict) else text
    return kind(f"Error code: {status} - {body!r}", response=response, body=inner)


def openai_error(
    message: str, code: str | None = None, kind: str = "invalid_request_error"
) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "code": code}}


def diagnose(exc: BaseException, **given: Any) -> AgentError:
    return classify(exc, **{"model": MODEL, "timeout": 0.5, "secrets": [SECRET], **given})


def litellm_exceptions() -> Any:
    return llm.load_litellm().exceptions


def assert_short_and_clean(error: AgentError) -> None:
    """One or two plain lines: no markup, no Python repr, no key."""
    text = str(error)
    assert 1 <= len(text.splitlines()) <= 2, text
    assert len(text) <= 400, text
    for fragment in ("<", ">", "{", "}", "[", "]", "Error code:", "Exception -", SECRET):
        assert fragment not in text, f"{fragment!r} in {text!r}"


# -- classify, a pure function -----------------------------------------------------------
def test_an_agent_error_comes_back_as_it_is() -> None:
    error = MissingAPIKeyError(MODEL, ["OPENAI_API_KEY"])
    assert diagnose(error) is error


def test_401_is_an_authentication_error_in_the_providers_words_without_the_key() -> None:
    body = openai_error(f"Incorrect API key provided: {SECRET}.", "invalid_api_key")
    error = diagnose(status_error(401, body, kind=openai.AuthenticationError))
    assert type(error) is AuthenticationError
    assert error.message.startswith(f"{MODEL} rejected the credentials: Incorrect API key provided: ***")
    assert "(HTTP 401 Unauthorized)" in error.message
    assert_short_and_clean(error)


def test_403_is_a_permission_error() -> None:
    body = openai_error("Country, region, or territory not supported", "unsupported_country_region_territory")
    error = diagnose(status_error(403, body, kind=openai.PermissionDeniedError))
    assert type(error) is PermissionDeniedError
    assert "HTTP 403 Forbidden" in error.message and "permissions" in error.hint


def test_404_about_the_model_points_at_the_model_name() -> None:
    body = openai_error("The model does not exist.", "model_not_found")
    error = diagnose(status_error(404, body, kind=openai.NotFoundError))
    assert type(error) is UnknownModelError and error.hint == UnknownModelError.default_hint
    assert "was not found by the provider: The model does not exist." in error.message


def test_404_about_the_url_points_at_the_api_base_without_its_credentials() -> None:
    error = diagnose(
        status_error(404, {"detail": "Not Found"}, kind=openai.NotFoundError),
        api_base="http://user:hunter2@gpu.local:8000/api?token=abc",
    )
    assert type(error) is UnknownModelError
    assert error.message == f"{MODEL}: the server has no such endpoint (HTTP 404 Not Found)."
    assert "(now http://gpu.local:8000/api)" in error.hint and "/v1" in error.hint
    assert "hunter2" not in error.hint and "abc" not in error.hint


def test_an_exhausted_quota_is_not_a_rate_limit() -> None:
    body = openai_error("You exceeded your current quota.", "insufficient_quota", "insufficient_quota")
    error = diagnose(status_error(429, body, kind=openai.RateLimitError))
    assert type(error) is QuotaExceededError
    assert "quota is used up" in error.message and "billing" in error.hint


def test_a_rate_limit_says_how_long_the_provider_asks_to_wait() -> None:
    body = openai_error("Rate limit reached for requests.", "rate_limit_exceeded")
    error = diagnose(status_error(429, body, kind=openai.RateLimitError, headers={"Retry-After": "300"}))
    assert type(error) is RateLimitError
    assert error.hint.startswith("The provider asks to wait 5 min")


def test_litellms_timeout_is_a_timeout_with_the_wait() -> None:
    timeout = litellm_exceptions().Timeout(message="Request timed out.", model=MODEL, llm_provider="openai")
    error = diagnose(timeout)
    assert type(error) is LLMTimeoutError
    assert error.message == f"{MODEL} stopped answering (no data for 0.5 s)."


def test_a_read_timeout_down_the_cause_chain_is_a_timeout() -> None:
    outer = RuntimeError("the stream broke")
    outer.__cause__ = httpx.ReadTimeout("timed out")
    assert type(diagnose(outer)) is LLMTimeoutError


def test_a_refused_connection_is_a_connection_error() -> None:
    refused = httpx.ConnectError("All connection attempts failed")
    error = diagnose(refused)
    assert type(error) is LLMConnectionError
    assert error.message == f"Connection to {MODEL} failed: All connection attempts failed"


def test_the_openai_sdks_own_transport_errors_are_known_too() -> None:
    request = sdk_httpx.Request("POST", "https://api.example.com/v1/chat/completions")
    outer = openai.APIConnectionError(request=request)
    outer.__cause__ = sdk_httpx.ConnectError("[Errno 111] Connection refused")
    assert type(diagnose(outer)) is LLMConnectionError


def test_a_body_that_is_not_json_is_a_malformed_response() -> None:
    outer = ValueError("bad chunk")
    outer.__cause__ = json.JSONDecodeError("Expecting value", "data: {", 6)
    error = diagnose(outer)
    assert type(error) is ProviderError and "malformed response (not valid JSON)" in error.message


def test_a_validation_error_is_rejected_and_not_worth_retrying() -> None:
    detail = [{"loc": ["body", "messages", 0, "content"], "msg": "field required", "type": "missing"}]
    exc = status_error(422, {"detail": detail}, kind=openai.UnprocessableEntityError)
    error = diagnose(exc)
    assert type(error) is ProviderError
    assert "messages.0.content: field required (HTTP 422 Unprocessable" in error.message
    assert "not retried" in error.hint
    assert not is_retryable(exc)


def test_an_html_error_page_becomes_its_status_and_title() -> None:
    page = "<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>"
    error = diagnose(status_error(502, text=page, kind=openai.InternalServerError))
    assert error.message == f"{MODEL}: HTTP 502 Bad Gateway"
    assert_short_and_clean(error)


def test_an_in_band_error_event_is_told_by_its_code() -> None:
    request = sdk_httpx.Request("POST", "https://api.example.com/v1/chat/completions")
    body = {"message": "Your request was rejected by the safety system.", "code": 400}
    exc = openai.APIError("Your request was rejected by the safety system.", request, body=body)
    error = diagnose(exc)
    assert error.message == f"{MODEL} rejected the request: {body['message']} (error 400)"
    assert not is_retryable(exc)


def test_an_error_after_text_counts_what_was_received() -> None:
    error = diagnose(status_error(500, openai_error("The server had an error.")), partial_text="Hello")
    assert error.partial_text == "Hello"
    assert error.message.endswith("(5 characters were received.)")


def test_a_context_window_error_does_not_count_characters() -> None:
    exc = litellm_exceptions().ContextWindowExceededError(
        message="maximum context length", model=MODEL, llm_provider="openai"
    )
    error = diagnose(exc, partial_text="Hello")
    assert type(error) is ContextWindowError
    assert error.message == f"The conversation is too long for {MODEL}." and error.partial_text == "Hello"


def test_classify_needs_no_litellm() -> None:
    """Pure: the rules read the exception, not a module-level litellm."""
    root = Path(__file__).parents[1]
    code = f"""
import sys
sys.path.insert(0, {str(root)!r})
import httpx
from kagura_magic.llm._diagnose import classify
print(type(classify(httpx.ConnectError("refused"), model="m")).__name__, "litellm" in sys.modules)
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["LLMConnectionError", "False"]


# -- what the retry helper asks -----------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "retryable"), [(500, True), (503, True), (429, True), (408, True), (400, False), (401, False)]
)
def test_which_statuses_are_worth_another_try(status: int, retryable: bool) -> None:
    assert is_retryable(status_error(status, openai_error("x"))) is retryable


def test_a_timeout_a_quota_and_an_unfinished_stream_are_not_retried() -> None:
    quota = status_error(429, openai_error("No money.", "insufficient_quota"), kind=openai.RateLimitError)
    eof = RuntimeError("OpenAIException - Stream ended before a finish_reason was received")
    assert not is_retryable(httpx.ReadTimeout("timed out"))
    assert not is_retryable(quota)
    assert not is_retryable(eof)
    assert is_retryable(httpx.ConnectError("refused"))


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [({"Retry-After": "7"}, 7.0), ({"retry-after-ms": "700"}, 0.7), ({"Retry-After": "soon"}, None)],
)
def test_retry_after_in_seconds_or_milliseconds(headers: dict[str, str], seconds: float | None) -> None:
    assert retry_after_seconds(status_error(429, openai_error("slow down"), headers=headers)) == seconds


def test_retry_after_as_an_http_date() -> None:
    import email.utils
    import time

    when = email.utils.formatdate(time.time() + 60, usegmt=True)
    wait = retry_after_seconds(status_error(429, openai_error("slow down"), headers={"Retry-After": when}))
    assert wait is not None and 55 <= wait <= 61


# -- streams that end without finishing, or without text ---------------------------------------
def test_litellms_end_of_stream_error_is_recognised() -> None:
    inner = RuntimeError("OpenAIException - Stream ended before a finish_reason was received")
    outer = RuntimeError("MidStreamFallbackError")
    outer.__cause__ = inner
    assert ended_without_finish(outer)
    assert not ended_without_finish(RuntimeError("Connection error."))


def test_an_unfinished_stream_is_incomplete_or_not_a_stream_at_all() -> None:
    cut = unfinished_error(MODEL, "Hel", streamed=True)
    assert type(cut) is IncompleteStreamError and cut.partial_text == "Hel"
    assert "(3 characters received)" in cut.message
    not_sse = unfinished_error(MODEL, "", streamed=False)
    assert type(not_sse) is LLMConnectionError and "no server-sent events" in not_sse.message


# -- through litellm and the local server ------------------------------------------------------
def fail(server: OpenAIServer, scenario: str, **fields: object) -> AgentError:
    """The error a stream of ``scenario`` ends with."""
    with pytest.raises(AgentError) as info:
        list(llm.call_llm_stream("hi", local(server, scenario, **fields)))
    return info.value


def test_authentication_error_never_shows_the_key(openai_server: OpenAIServer) -> None:
    error = fail(openai_server, "status-401")
    assert type(error) is AuthenticationError
    assert SECRET not in str(error) and SECRET not in repr(error)
    assert "Incorrect API key" in str(error)
    assert len(openai_server.requests) == 1, "401 is not retried"


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
        ("status-500", ProviderError, ["The server had an error"], 3),
    ],
)
def test_error_bodies_are_summarised(
    openai_server: OpenAIServer, scenario: str, kind: type[AgentError], must_contain: list[str], requests: int
) -> None:
    error = fail(openai_server, scenario)
    assert type(error) is kind, repr(error)
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


def test_insufficient_quota_is_not_retried_and_points_to_billing(openai_server: OpenAIServer) -> None:
    error = fail(openai_server, "quota-429")
    assert type(error) is QuotaExceededError
    assert isinstance(error, RateLimitError), "still a RateLimitError for code that catches those"
    assert "quota" in error.message and "429" in error.message
    assert "billing" in error.hint and "wait a moment" not in error.hint.lower()
    assert_short_and_clean(error)
    assert len(openai_server.requests) == 1


def test_forbidden_is_a_permission_error_and_not_retried(openai_server: OpenAIServer) -> None:
    error = fail(openai_server, "forbidden-403")
    assert type(error) is PermissionDeniedError
    assert isinstance(error, AuthenticationError)
    assert "HTTP 403 Forbidden" in error.message and "region" in error.message
    assert "permission" in error.hint and "region" in error.hint
    assert "try again" not in str(error)
    assert_short_and_clean(error)
    assert len(openai_server.requests) == 1


def test_a_conversation_too_long_for_the_model_is_a_context_window_error(openai_server: OpenAIServer) -> None:
    error = fail(openai_server, "context-400")
    assert type(error) is ContextWindowError
    assert error.message == "The conversation is too long for openai/context-400."
    assert "%agent reset" in error.hint
    assert len(openai_server.requests) == 1


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
        list(llm.call_llm_stream("hi", config))
    assert type(info.value) is LLMConnectionError
    assert info.value.partial_text == ""
    assert f"nothing is listening at 127.0.0.1:{port} (connection refused)" in info.value.message
    assert "ssl" not in str(info.value).lower(), "a plain-http connection has nothing to do with TLS"
    assert SECRET not in str(info.value)


def test_every_error_is_short() -> None:
    for error in (
        MissingAPIKeyError("gpt-4o-mini", ["OPENAI_API_KEY"]),
        AuthenticationError("x"),
        LLMTimeoutError("x"),
    ):
        assert isinstance(error, AgentError)
        assert 1 <= len(str(error).splitlines()) <= 2
