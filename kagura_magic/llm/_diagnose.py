"""What went wrong, in one or two plain lines: an exception in, an ``AgentError`` out.

Pure functions of their arguments (no litellm import, no global state), so
every rule is tested with exception objects built in the test. litellm wraps
errors (a mid-stream ``MidStreamFallbackError`` as a 5xx, a 403 as a generic
``APIError``), so the cause chain is searched for what really happened: the
HTTP status (or an in-band error's code) and the provider's own words, never
its HTML or a Python repr, and never a key (``kagura_magic.secrets``).
litellm's and httpx's classes are told apart by name through the MRO: that
needs no import of either, and also knows httpx2, the fork the openai SDK now
uses (litellm's own transports still raise httpx's classes).

``is_retryable`` and ``retry_after_seconds`` read the same evidence for the
retry helper.
"""

from __future__ import annotations

import ast
import contextlib
import email.utils
import html
import http
import json
import math
import re
import time
from collections.abc import Iterator, Sequence
from datetime import timezone
from typing import Any
from urllib.parse import urlsplit

from kagura_magic.errors import (
    AgentError,
    AuthenticationError,
    ContextWindowError,
    IncompleteStreamError,
    LLMConnectionError,
    LLMTimeoutError,
    PermissionDeniedError,
    ProviderError,
    QuotaExceededError,
    RateLimitError,
    UnknownModelError,
)
from kagura_magic.secrets import mask

_RETRYABLE_CLIENT_ERRORS = {408, 409, 429}
_QUOTA_CODES = {"insufficient_quota", "billing_hard_limit_reached", "billing_not_active"}
_REJECTED_HINT = (
    "The provider refused this request as it is, so it was not retried; check the prompt and the options."
)
_HTML_PAGE = re.compile(r"<\s*(!doctype|html|head|body|title|h1|center|div|p)\b", re.I)
_HTML_TITLE = re.compile(r"<title[^>]*>(.*?)</title\s*>", re.I | re.S)
_TAG = re.compile(r"</?[A-Za-z!][^<>]*>")
_STATUS_REPR = re.compile(r"^Error code: (\d{3})(?: - (.*))?$", re.S)  # the openai SDK's str() of an error
_LITELLM_NOISE = re.compile(r"\s*(Received Model Group|Available Model Group|LiteLLM Retried|Learn more:).*$")
_LITELLM_PREFIX = re.compile(r"^(litellm\.)?\w*(Error|Exception)\s*[:-]\s*", re.I)
# litellm >= 1.110 raises this where older releases ended a cut stream silently.
_EOF_WITHOUT_FINISH = "Stream ended before a finish_reason was received"


def classify(
    exc: BaseException,
    *,
    model: str,
    api_base: str | None = None,
    timeout: float | None = None,
    secrets: Sequence[str] = (),
    partial_text: str = "",
    partial_thinking: str = "",
) -> AgentError:
    """One short, actionable error for ``exc``; it keeps ``partial_text`` and never shows ``secrets``.

    An ``AgentError`` is already one and comes back as it is.
    """
    if isinstance(exc, AgentError):
        return exc
    kind, message, hint = _diagnose(exc, model, api_base, timeout, secrets)
    if kind is not ContextWindowError:
        message += received(partial_text, partial_thinking)
    return kind(message, hint, partial_text=partial_text, model=model)


def received(text: str, thinking: str) -> str:
    """How much had come when a read failed: a drop while the model thought is told apart,
    since the user sees thinking on screen and would else wonder where the answer went."""
    if text:
        return f" ({len(text)} characters were received.)"
    if thinking:
        return f" (It was still thinking: {len(thinking)} characters of thinking, no answer text arrived.)"
    return ""


def _diagnose(
    exc: BaseException, model: str, api_base: str | None, timeout: float | None, secrets: Sequence[str]
) -> tuple[type[AgentError], str, str | None]:
    """The error kind, its first line and its hint (None: the kind's own)."""
    chain = list(_exception_chain(exc))
    transport = next((e for e in chain if _is_transport_error(e)), None)
    status, in_stream = _error_status(chain)
    words, title = _provider_words(chain, transport or exc, secrets)
    words = _connector_words(words)
    detail = _with_status(words, title, status, in_stream)

    if _raised_by_litellm(exc, "ContextWindowExceededError"):
        return ContextWindowError, f"The conversation is too long for {model}.", None
    if status == 403 or _raised_by_litellm(exc, "PermissionDeniedError"):
        return PermissionDeniedError, f"{model} refused the request: {detail}", None
    if status == 401 or _raised_by_litellm(exc, "AuthenticationError"):
        return AuthenticationError, f"{model} rejected the credentials: {detail}", None
    if status == 404 or _raised_by_litellm(exc, "NotFoundError"):
        if _names_the_model(words, chain):
            return UnknownModelError, f"{model} was not found by the provider: {detail}", None
        return (
            UnknownModelError,
            f"{model}: the server has no such endpoint ({detail}).",
            _endpoint_hint(api_base),
        )
    if _is_quota(chain):
        return QuotaExceededError, f"{model}: the account's quota is used up: {detail}", None
    if status == 429 or _raised_by_litellm(exc, "RateLimitError"):
        return RateLimitError, f"{model} is rate limited: {detail}", _rate_limit_hint(exc)
    if _timed_out(exc, chain, status):
        waited = f"no data for {timeout:g} s" if timeout is not None else "no data in time"
        return LLMTimeoutError, f"{model} stopped answering ({waited}).", _TIMEOUT_HINT
    if any(isinstance(e, json.JSONDecodeError) for e in chain):
        return ProviderError, f"{model} sent a malformed response (not valid JSON).", None
    if any(isinstance(e, UnicodeDecodeError) for e in chain):
        return ProviderError, f"{model}: the provider sent bytes that are not UTF-8.", _NOT_UTF8_HINT
    if any(isinstance(e, UnicodeEncodeError) for e in chain):
        return ProviderError, f"{model}: the request holds text that cannot be encoded.", _UNENCODABLE_HINT
    if status is None and (transport is not None or _raised_by_litellm(exc, "APIConnectionError")):
        return LLMConnectionError, f"Connection to {model} failed: {detail}", None
    if status is not None and status < 500:
        return ProviderError, f"{model} rejected the request: {detail}", _REJECTED_HINT
    return ProviderError, f"{model}: {detail}", None


# -- streams that end without a word, or without text -----------------------------------
def ended_without_finish(exc: BaseException) -> bool:
    """litellm's own error for a stream that closed before the provider said it was done."""
    return any(_EOF_WITHOUT_FINISH in str(error) for error in _exception_chain(exc))


def unfinished_error(model: str, text: str, streamed: bool, thinking: str = "") -> LLMConnectionError:
    """A stream that ended before the provider sent a finish reason: never a complete answer.

    ``streamed`` is False when not one event came (a JSON answer from a proxy
    that ignores "stream", an HTML page, nothing): then no answer was cut,
    the URL is wrong.
    """
    if not streamed:
        return LLMConnectionError(
            f"{model} answered without streaming: its response had no server-sent events.",
            "Check --api-base: it should be an OpenAI-compatible URL that streams (often ending in /v1).",
            model=model,
        )
    amount = f" ({len(text)} characters received)." if text else "." + received(text, thinking)
    return IncompleteStreamError(
        f"The connection to {model} closed before the answer was complete{amount}",
        partial_text=text,
        model=model,
    )


def no_text_error(model: str, finish_reason: str | None) -> ProviderError:
    """Why an answer that ended normally has no text, and what to do: for views to show.

    The API returns the empty text as it is (an empty prompt may well get one);
    a reader staring at an empty cell needs to be told.
    """
    if finish_reason in ("tool_calls", "function_call"):
        return ProviderError(
            f"{model} answered with a tool call, not text; kagura-magic does not run tools.",
            "Ask for a text answer, or remove tools/tool_choice from --param.",
            model=model,
        )
    if finish_reason == "length":
        return ProviderError(
            f"{model} reached its token limit before writing any answer (reasoning models think first).",
            "Raise --max-tokens and run it again.",
            model=model,
        )
    if finish_reason == "content_filter":
        return ProviderError(
            f"{model}'s content filter blocked the answer.",
            "Rephrase the prompt, or try another model.",
            model=model,
        )
    return ProviderError(
        f"{model} returned an empty answer (finish reason: {finish_reason}).",
        "Run it again, or try another model.",
        model=model,
    )


# -- what the retry helper asks ------------------------------------------------------------
def is_retryable(exc: BaseException) -> bool:
    """Worth another try: a rate limit, a 5xx (or 408/409), a dropped connection.

    Never a timeout (the provider is not answering: each retry would add a
    whole timeout to the wait), an exhausted quota, a stream that ended
    without finishing (older litellm ended those silently, unretried), text
    that could not be encoded or bytes that could not be decoded, or
    another 4xx, sent as the HTTP status or as an in-band error event: the
    same request would get the same answer.
    """
    chain = list(_exception_chain(exc))
    status, _ = _error_status(chain)
    if _timed_out(exc, chain, status) or _is_quota(chain) or ended_without_finish(exc):
        return False
    if any(isinstance(e, UnicodeError) for e in chain):
        return False  # the same text, or the same provider's bytes, would fail the same way
    if status is not None:
        return status in _RETRYABLE_CLIENT_ERRORS or status >= 500
    if _raised_by_litellm(exc, "RateLimitError", "APIConnectionError"):
        return True
    code = _status_code(exc)  # litellm's own, e.g. 500 for anything raised mid-stream
    if code is not None:
        return code == 429 or code >= 500
    return any(_is_transport_error(e) for e in chain)


def retry_after_seconds(exc: BaseException) -> float | None:
    """The wait the provider asked for, if it did: ``retry-after-ms``, or ``Retry-After``
    in seconds or as an HTTP-date.

    litellm's exception keeps the headers in ``litellm_response_headers`` (its
    ``response`` is a stand-in without them); the openai SDK's exception down
    the cause chain has the real ``response``.
    """
    for error in _exception_chain(exc):
        response = getattr(error, "response", None)
        for headers in (getattr(error, "litellm_response_headers", None), getattr(response, "headers", None)):
            seconds = _retry_after_from(headers)
            if seconds is not None:
                return seconds
    return None


# -- the evidence: the chain, statuses, bodies --------------------------------------------
def _exception_chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop(0)
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo += [
            current.__cause__,
            current.__context__,
            getattr(current, "original_exception", None),
        ]


def _is_a(obj: object, packages: tuple[str, ...], *names: str) -> bool:
    """``isinstance(obj, <package>.<name>)`` for any of ``packages`` and ``names``, without importing them."""
    return any(
        cls.__name__ in names and cls.__module__.split(".", 1)[0] in packages for cls in type(obj).__mro__
    )


def _raised_by_litellm(exc: BaseException, *names: str) -> bool:
    return _is_a(exc, ("litellm",), *names)


def _is_httpx(obj: object, *names: str) -> bool:
    return _is_a(obj, ("httpx", "httpx2"), *names)


def _from_litellm(exc: BaseException) -> bool:
    return type(exc).__module__.split(".", 1)[0] == "litellm"


def _status_code(exc: BaseException) -> int | None:
    code = getattr(exc, "status_code", None)
    return code if isinstance(code, int) else None


def _is_transport_error(exc: BaseException) -> bool:
    return (_is_httpx(exc, "TransportError") or isinstance(exc, ConnectionError)) and not _is_timeout_type(
        exc
    )


def _is_timeout_type(exc: BaseException) -> bool:
    return _is_httpx(exc, "TimeoutException") or isinstance(exc, TimeoutError)


def _is_timeout(exc: BaseException) -> bool:
    return _is_timeout_type(exc) or "timed out" in str(exc).lower()


def _made_up_status(exc: BaseException) -> bool:
    """litellm's own classes that carry a status no server sent (500, 408)."""
    return _raised_by_litellm(exc, "APIConnectionError", "Timeout") or type(exc).__name__ == (
        "MidStreamFallbackError"
    )


def _error_status(chain: list[BaseException]) -> tuple[int | None, bool]:
    """The HTTP status of the failed response, or the code of an in-band error event.

    The second value is True for the latter (the HTTP response was a 200 and
    the error came in the stream). The real response is looked for first:
    litellm's own classes carry made-up statuses.
    """
    for error in chain:
        response = getattr(error, "response", None)
        if _is_httpx(response, "Response") and not _from_litellm(error):
            status = getattr(response, "status_code", None)
            if isinstance(status, int) and status >= 400:
                return status, False
    if any(_is_transport_error(e) or _is_timeout_type(e) for e in chain):
        return None, False  # no response, or one that broke off: no status to go by
    for error in chain:
        code = _status_code(error)
        if code is not None and code >= 400 and not _made_up_status(error):
            return code, False
    for error in chain:
        body = getattr(error, "body", None)
        code = body.get("code") if isinstance(body, dict) else None
        if isinstance(code, str) and code.isdigit():
            code = int(code)
        if isinstance(code, int) and 400 <= code <= 599:
            return code, True
    return None, False


def _is_quota(chain: list[BaseException]) -> bool:
    """A 429 about money (OpenAI's ``insufficient_quota``), not about speed."""
    for error in chain:
        body = getattr(error, "body", None)
        if isinstance(body, dict):
            inner = body["error"] if isinstance(body.get("error"), dict) else body
            if {str(inner.get("code")), str(inner.get("type"))} & _QUOTA_CODES:
                return True
        if "insufficient_quota" in str(error):
            return True
    return False


def _timed_out(exc: BaseException, chain: list[BaseException], status: int | None) -> bool:
    """No answer in time: no response at all, or headers and then silence."""
    if _raised_by_litellm(exc, "Timeout"):
        return True
    if any(_is_timeout_type(e) for e in chain):
        return True
    return status is None and any(_is_timeout(e) for e in chain)


def _names_the_model(words: str, chain: list[BaseException]) -> bool:
    """Whether a 404 is about the model (OpenAI, Ollama) rather than the URL (a web server, FastAPI)."""
    codes = {str(getattr(e, "code", None)) for e in chain}
    return "model" in words.lower() or "model_not_found" in codes


# -- the provider's words, cleaned ----------------------------------------------------------
def _reason(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return ""


def _with_status(words: str, title: str, status: int | None, in_stream: bool) -> str:
    """``words (HTTP 502 Bad Gateway)``, or the status (and an HTML page's title) alone."""
    if status is None:
        return words or title or "no details given"
    label = f"error {status}" if in_stream else f"HTTP {status} {_reason(status)}".rstrip()
    if title and title.lower() not in label.lower():
        label += f" ({title})"
    if words.rstrip(".").lower() in {"", _reason(status).lower(), f"{status} {_reason(status)}".lower()}:
        return label
    return f"{words} ({label})"


def _provider_words(
    chain: list[BaseException], fallback: BaseException, secrets: Sequence[str]
) -> tuple[str, str]:
    """The provider's message and an HTML page's title, from the first error body in the chain."""
    for error in chain:
        text = _body_text(getattr(error, "body", None))
        if text.strip():
            return _summarise(_scrub(text, secrets))
    return _exception_words(fallback, secrets)


def _exception_words(exc: BaseException, secrets: Sequence[str]) -> tuple[str, str]:
    """An exception's message, without litellm's prefixes or the SDK's repr of the body."""
    text = _scrub(str(getattr(exc, "message", None) or exc), secrets).strip()
    previous = None
    while previous != text:
        previous, text = text, _LITELLM_PREFIX.sub("", text, count=1).strip()
    match = _STATUS_REPR.match(text)
    if match:
        try:
            text = _body_text(ast.literal_eval((match.group(2) or "''").strip()))
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            text = ""
    return _summarise(text)


# aiohttp's "Cannot connect to host 127.0.0.1:9 ssl:default [Connect call failed (...)]": the
# "ssl:" part is its connector's setting, shown even for plain http, and misleads.
_CONNECTOR = re.compile(r"Cannot connect to host (?P<host>\S+) ssl:\S*\s*\[(?P<why>.*)\]\s*$", re.S)
_REFUSED = re.compile(r"Connect call failed|Connection refused|Errno 111", re.I)
_NOT_UTF8_HINT = (
    "Run it again; if it happens again, the provider or a proxy in between (--api-base) is not sending UTF-8."
)
_UNENCODABLE_HINT = "Check the prompt, --system and --param values for lone surrogates (such as '\\ud800')."
_TIMEOUT_HINT = (
    "Try again, or allow a longer silence with --timeout SECONDS (or %config AgentMagics.timeout); "
    "a model that thinks before answering may need minutes."
)


def _connector_words(text: str) -> str:
    """aiohttp's connection failure in plain words: which host, and refused or why not."""
    match = _CONNECTOR.search(text)
    if match is None:
        return text
    host, why = match["host"], match["why"].strip()
    if _REFUSED.search(why):
        return f"nothing is listening at {host} (connection refused)"
    return f"cannot connect to {host} ({why})" if why else f"cannot connect to {host}"


def _scrub(text: str, secrets: Sequence[str]) -> str:
    return mask(text, secrets)


def _body_text(body: object) -> str:
    """The message in an error body: OpenAI's ``{"error": {"message"}}``, FastAPI's
    ``{"detail": ...}`` (a string or a list of validation errors), or plain text."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str):
        return body
    if isinstance(body, dict):
        for key in ("error", "message", "detail", "msg", "title", "description"):
            text = _body_text(body.get(key))
            if text.strip():
                return text
        return ""
    if isinstance(body, list):
        return "; ".join(part for part in map(_validation_error, body[:3]) if part)
    return ""


def _validation_error(item: object) -> str:
    if isinstance(item, dict) and isinstance(item.get("msg"), str):
        loc = item.get("loc")
        path = ".".join(str(part) for part in loc if part != "body") if isinstance(loc, list) else ""
        message: str = item["msg"]
        return f"{path}: {message}" if path else message
    return _body_text(item)


def _summarise(text: str) -> tuple[str, str]:
    """(one line of text, an HTML page's title): never markup, a traceback or a repr."""
    text = text.strip()
    if text.startswith("<") and _HTML_PAGE.search(text):
        match = _HTML_TITLE.search(text)
        title = " ".join(html.unescape(_TAG.sub("", match.group(1))).split()) if match else ""
        return "", _clip(title, 120)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return "", ""
    traceback = any(line.startswith("Traceback (most recent call last)") for line in lines)
    line = lines[-1] if traceback else lines[0]  # a traceback's last line says what happened
    line = _LITELLM_NOISE.sub("", _TAG.sub("", line)).strip()
    if line.startswith(("{", "[")):
        return "", ""  # JSON or a repr we could not read: the status says more
    return _clip(line, 200), ""


def _clip(text: str, limit: int) -> str:
    return text[:limit] + "…" if len(text) > limit else text


# -- hints ------------------------------------------------------------------------------------
def _endpoint_hint(api_base: str | None) -> str:
    shown = ""
    if api_base:
        parts = urlsplit(api_base)  # no user, password or query: they may hold a key
        host = parts.hostname or ""
        shown = f" (now {parts.scheme}://{host}{f':{parts.port}' if parts.port else ''}{parts.path})"
    return (
        f"Check --api-base{shown}: for an OpenAI-compatible server it should end in /v1. "
        "Then check the model name."
    )


def _rate_limit_hint(exc: BaseException) -> str | None:
    wait = retry_after_seconds(exc)
    if not wait:
        return None
    pause = f"{math.ceil(wait)} s" if wait < 120 else f"{math.ceil(wait / 60)} min"
    return f"The provider asks to wait {pause}; run the cell again then, or use a model with a higher limit."


def _retry_after_from(headers: Any) -> float | None:
    """Seconds from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP-date); None if absent."""
    if not headers:
        return None
    try:
        found = {str(name).lower(): str(value).strip() for name, value in headers.items()}
    except Exception:
        return None
    with contextlib.suppress(ValueError):
        if "retry-after-ms" in found:
            seconds = float(found["retry-after-ms"]) / 1000
            if math.isfinite(seconds) and seconds >= 0:
                return seconds
    value = found.get("retry-after")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        return max(when.timestamp() - time.time(), 0.0)
    return seconds if math.isfinite(seconds) and seconds >= 0 else None
