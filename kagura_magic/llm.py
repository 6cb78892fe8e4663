"""The only module that talks to litellm.

``call_llm_stream`` (async) and ``call_llm_stream_sync`` (for the magic, which
runs inside the kernel's already-running event loop) share one request
builder, one error mapper and one accounting path in ``_Request``, the way
httpx's ``Client`` and ``AsyncClient`` share their base: the two never drift.

litellm is imported on first use (it costs ~2 s and ~160 MB) by
``load_litellm``, which also switches off its network fetch at import, its
banners and its log noise. ``warm_up`` does that in a background thread.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import difflib
import email.utils
import html
import http
import json
import logging
import math
import os
import random
import re
import threading
import time
import warnings
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timezone
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

from kagura_magic.config import LLMConfig, is_secret_name
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

Message = dict[str, Any]
PromptOrMessages = str | Sequence[Message]

_litellm: ModuleType | None = None
_litellm_lock = threading.Lock()
_LITELLM_LOGGERS = ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy", "litellm")

# Providers that speak the OpenAI wire format and are often self-hosted
# (vLLM, llama.cpp, Ollama's /v1): with --api-base they may need no key at all.
_OPENAI_COMPATIBLE = {
    "openai",
    "openai_like",
    "hosted_vllm",
    "custom_openai",
    "text-completion-openai",
}
_PLACEHOLDER_KEY = "sk-no-key-required"
_MAX_RETRY_AFTER = 30.0


def load_litellm() -> ModuleType:
    """Import and configure litellm once, thread-safely."""
    global _litellm
    if _litellm is not None:
        return _litellm
    with _litellm_lock:
        if _litellm is None:
            # Without this, importing litellm fetches the model cost map from
            # the internet (5 s timeout, then retry warnings in later cells).
            from kagura_magic.providers import use_local_cost_map

            use_local_cost_map()
            if not os.environ.get("LITELLM_LOG"):
                for name in _LITELLM_LOGGERS:
                    logging.getLogger(name).setLevel(logging.CRITICAL)
            # litellm and the pydantic models it builds lazily warn about their
            # own internals (on import and on first calls); none of it is the
            # user's business, and stray stderr breaks nbval comparisons.
            warnings.filterwarnings("ignore", module=r"litellm(\..*)?$")
            warnings.filterwarnings("ignore", message=r".*(ReadOnly|Pydantic|pydantic).*")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                import litellm
            litellm.suppress_debug_info = True  # the "Give Feedback / Get Help" banner
            litellm.telemetry = False
            from kagura_magic.providers import demo

            demo.register(litellm)
            _litellm = litellm
    return _litellm


def litellm_ready() -> bool:
    """True once litellm is imported, so offline checks cost nothing."""
    return _litellm is not None


def preflight(config: LLMConfig) -> None:
    """The offline checks a request makes first (model known, key present), on their own."""
    _Request("", config)._preflight(load_litellm())


def warm_up() -> None:
    """Pay litellm's import and first-call cost now, so the first real call doesn't.

    Runs one tiny ``demo/echo`` request, which sets up litellm's lazily built
    provider tables, logging objects and thread pool. Callers run it on a
    background thread (the extension does, when it loads).
    """
    from kagura_magic.views.pump import io_loop

    async def one_request() -> None:
        config = LLMConfig(model="demo/echo", extra={"tokens_per_second": 0})
        async for _ in call_llm_stream("warm up", config):
            pass

    # On the loop real streams are read on (see ``pump``), to warm the same path. Warm-up
    # is an optimisation: the real call reports any error.
    with contextlib.suppress(Exception):
        asyncio.run_coroutine_threadsafe(one_request(), io_loop()).result()


def build_messages(prompt_or_messages: PromptOrMessages, system_prompt: str | None = None) -> list[Message]:
    """A chat message list from a prompt string or an existing message list."""
    if isinstance(prompt_or_messages, str):
        messages: list[Message] = [{"role": "user", "content": prompt_or_messages}]
    else:
        messages = [dict(m) for m in prompt_or_messages]
        if not all(isinstance(m, dict) and "role" in m for m in messages):
            raise TypeError("messages must be dicts with a 'role' and 'content'")
    if system_prompt and not any(m["role"] == "system" for m in messages):
        messages.insert(0, {"role": "system", "content": system_prompt})
    return messages


@dataclass
class StreamStats:
    """What a view shows after (or during) an answer."""

    model: str
    started: float = field(default_factory=time.monotonic)
    first_token_at: float | None = None
    finished_at: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    tokens_estimated: bool = False
    cost: float | None = None
    finish_reason: str | None = None
    attempts: int = 0

    @property
    def time_to_first_token(self) -> float | None:
        return None if self.first_token_at is None else self.first_token_at - self.started

    @property
    def duration(self) -> float:
        end = self.finished_at if self.finished_at is not None else time.monotonic()
        return end - self.started

    @property
    def tokens_per_second(self) -> float | None:
        """Generation speed, measured from the first token (what the reader feels)."""
        if not self.completion_tokens or self.first_token_at is None:
            return None
        end = self.finished_at if self.finished_at is not None else time.monotonic()
        span = end - self.first_token_at
        return self.completion_tokens / span if span > 0 else None

    def summary(self) -> str:
        """One status line: model · first token · tok/s · tokens · cost."""
        parts = [self.model]
        if self.time_to_first_token is not None:
            parts.append(f"first token {self.time_to_first_token:.2f} s")
        if self.tokens_per_second is not None:
            parts.append(f"{self.tokens_per_second:.0f} tok/s")
        if self.completion_tokens is not None:
            approx = "~" if self.tokens_estimated else ""
            parts.append(f"{approx}{self.completion_tokens} tokens")
        if self.cost:  # unknown (None) or free (0, e.g. the demo and local models): nothing to show
            parts.append(f"${self.cost:.4f}")
        if self.finish_reason == "length":
            parts.append("stopped at max tokens")
        elif self.finish_reason == "content_filter":
            parts.append("cut by the provider's content filter")
        return " · ".join(parts)

    def as_metadata(self) -> dict[str, Any]:
        """JSON-safe numbers for notebook output metadata."""
        return {
            "model": self.model,
            "time_to_first_token": self.time_to_first_token,
            "duration": self.duration,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "tokens_per_second": self.tokens_per_second,
            "cost": self.cost,
            "finish_reason": self.finish_reason,
        }


@dataclass(frozen=True)
class LLMResponse:
    """A complete (non-streamed) answer."""

    content: str
    model: str
    usage: dict[str, int]
    duration: float
    cost: float | None
    finish_reason: str | None = None
    cached: bool = False

    def __str__(self) -> str:
        return self.content


REPLACEMENT_CHARACTER = "\ufffd"
_SURROGATE = re.compile("[\ud800-\udfff]")


def _whole_characters(piece: str) -> str:
    """Join surrogate pairs and replace lone halves with U+FFFD.

    JSON escapes characters beyond U+FFFF as two ``\\uXXXX`` halves, and a proxy
    that cuts strings by UTF-16 length can send them in different chunks. A
    lone half cannot be encoded as UTF-8: printing or sending it to the
    notebook would fail, losing the answer.
    """
    if not _SURROGATE.search(piece):
        return piece
    return piece.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def _ends_in_high_surrogate(piece: str) -> bool:
    return bool(piece) and "\ud800" <= piece[-1] <= "\udbff"


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


class _Request:
    """What the sync and async paths share: building, preflight, mapping, accounting."""

    def __init__(self, prompt_or_messages: PromptOrMessages, config: LLMConfig | None) -> None:
        self.config = config or LLMConfig()
        self.model = self.config.resolved_model()
        self.messages = build_messages(prompt_or_messages, self.config.system_prompt)
        self.stats = StreamStats(model=self.model)
        self._pieces: list[str] = []
        self._split_surrogate = ""  # the first half of a character whose second half is in the next chunk
        self._streamed = False  # a chunk with a role or content came: the server did stream

    @property
    def text(self) -> str:
        """Everything received so far: the partial answer if it stopped early."""
        return "".join(self._pieces)

    # -- before the call -------------------------------------------------
    def _provider(self, lit: ModuleType) -> str:
        try:
            return lit.get_llm_provider(self.model, api_base=self.config.api_base)[1]
        except Exception:
            raise UnknownModelError(
                f"Unknown model {self.model!r}: litellm cannot tell which provider serves it."
                + _did_you_mean(self.model, lit),
                "Prefix the provider (openai/..., anthropic/..., ollama/...) or pick one from "
                "`%agent models`; -m demo/showcase works offline.",
                model=self.model,
            ) from None

    def _preflight(self, lit: ModuleType) -> dict[str, Any]:
        """Checks that need no network, then the litellm kwargs."""
        from kagura_magic.providers import demo

        provider = self.provider = self._provider(lit)
        if provider == demo.PROVIDER and self.model.split("/", 1)[1] not in demo.DEMO_MODELS:
            known = ", ".join(f"demo/{m}" for m in demo.DEMO_MODELS)
            raise UnknownModelError(
                f"Unknown demo model {self.model!r}.",
                f"The demo models are {known}.",
                model=self.model,
            )
        kwargs: dict[str, Any] = {
            "model": self.model,
            "messages": self.messages,
            "timeout": self.config.timeout,
        }
        for name in ("temperature", "max_tokens", "top_p", "api_base", "api_key"):
            value = getattr(self.config, name)
            if value is not None:
                kwargs[name] = value
        kwargs.update(self.config.extra)
        if "api_key" not in kwargs and provider != demo.PROVIDER:
            self._check_key(lit, provider, kwargs)
        if provider in _OPENAI_COMPATIBLE:
            # We retry ourselves, and only before the first token; the openai
            # SDK's own retries would hide 429s and double our waits.
            kwargs.setdefault("max_retries", 0)
        return kwargs

    def _check_key(self, lit: ModuleType, provider: str, kwargs: dict[str, Any]) -> None:
        try:
            missing = lit.validate_environment(self.model, api_base=self.config.api_base).get(
                "missing_keys", []
            )
        except Exception:
            return  # cannot tell offline; the provider will answer
        if not missing:
            return
        if self.config.api_base and provider in _OPENAI_COMPATIBLE:
            kwargs["api_key"] = _PLACEHOLDER_KEY  # a self-hosted server usually wants none
            return
        raise MissingAPIKeyError(self.model, list(missing))

    def _supports(self, lit: ModuleType, param: str) -> bool:
        """Whether the provider found by ``_preflight`` takes ``param``."""
        try:
            supported = lit.get_supported_openai_params(model=self.model, custom_llm_provider=self.provider)
        except Exception:
            return False
        return bool(supported) and param in supported

    # -- errors -----------------------------------------------------------
    def _map_error(self, exc: BaseException) -> AgentError:
        """One short, actionable error; keeps the partial text; never the key."""
        if isinstance(exc, AgentError):
            exc.partial_text = exc.partial_text or self.text
            return exc
        kind, message, hint = self._classify(exc)
        if self._pieces and kind is not ContextWindowError:
            message += f" ({len(self.text)} characters were received.)"
        return kind(message, hint, partial_text=self.text, model=self.model)

    def _classify(self, exc: BaseException) -> tuple[type[AgentError], str, str | None]:
        """The error kind, its first line and its hint (None: the kind's own).

        litellm wraps errors (a mid-stream ``MidStreamFallbackError`` as a 5xx,
        a 403 as a generic ``APIError``), so the cause chain is searched for
        what really happened: the HTTP status (or an in-band error's code) and
        the provider's own words, never its HTML or a Python repr.
        """
        secrets = self._secrets()
        chain = list(_exception_chain(exc))
        transport = next((e for e in chain if _is_transport_error(e)), None)
        status, in_stream = _error_status(chain)
        words, title = _provider_words(chain, transport or exc, secrets)
        detail = _with_status(words, title, status, in_stream)
        model, lit = self.model, _litellm

        def raised(*names: str) -> bool:
            return lit is not None and isinstance(exc, tuple(getattr(lit, name) for name in names))

        if raised("ContextWindowExceededError"):
            return ContextWindowError, f"The conversation is too long for {model}.", None
        if status == 403 or raised("PermissionDeniedError"):
            return PermissionDeniedError, f"{model} refused the request: {detail}", None
        if status == 401 or raised("AuthenticationError"):
            return AuthenticationError, f"{model} rejected the credentials: {detail}", None
        if status == 404 or raised("NotFoundError"):
            if _names_the_model(words, chain):
                return UnknownModelError, f"{model} was not found by the provider: {detail}", None
            return (
                UnknownModelError,
                f"{model}: the server has no such endpoint ({detail}).",
                _endpoint_hint(self.config.api_base),
            )
        if _is_quota(chain):
            return QuotaExceededError, f"{model}: the account's quota is used up: {detail}", None
        if status == 429 or raised("RateLimitError"):
            return RateLimitError, f"{model} is rate limited: {detail}", _rate_limit_hint(exc)
        if _timed_out(exc, chain, status):
            waited = f"no data for {self.config.timeout:g} s"
            return LLMTimeoutError, f"{model} stopped answering ({waited}).", None
        if any(isinstance(e, json.JSONDecodeError) for e in chain):
            return ProviderError, f"{model} sent a malformed response (not valid JSON).", None
        if status is None and (transport is not None or raised("APIConnectionError")):
            return LLMConnectionError, f"Connection to {model} failed: {detail}", None
        if status is not None and status < 500:
            return ProviderError, f"{model} rejected the request: {detail}", _REJECTED_HINT
        return ProviderError, f"{model}: {detail}", None

    def _secrets(self) -> list[str]:
        values = [self.config.api_key or ""]
        values += [str(v) for k, v in self.config.extra.items() if is_secret_name(k)]
        return [v for v in values if len(v) >= 6]

    def _retry_delay(self, attempt: int, exc: BaseException) -> float | None:
        """Seconds to wait before trying again, or None when it must not retry.

        Only called before the first token: after it, a retry would repeat
        text the reader has already seen.
        """
        if attempt >= self.config.max_retries or not _is_retryable(exc):
            return None
        retry_after = _retry_after_seconds(exc)
        if retry_after is not None:
            return min(retry_after, _MAX_RETRY_AFTER)
        base = self.config.retry_backoff * (2**attempt)
        return base * (1 + random.random() / 10)

    # -- during and after the stream -----------------------------------
    def _stream_kwargs(self, lit: ModuleType) -> dict[str, Any]:
        kwargs = self._preflight(lit)
        kwargs["stream"] = True
        if "stream_options" not in kwargs and self._supports(lit, "stream_options"):
            kwargs["stream_options"] = {"include_usage": True}
        return kwargs

    def _take(self, chunk: Any) -> str:
        """Record one litellm chunk; return its text."""
        usage = getattr(chunk, "usage", None)
        if usage:
            self.stats.prompt_tokens = getattr(usage, "prompt_tokens", None) or self.stats.prompt_tokens
            self.stats.completion_tokens = (
                getattr(usage, "completion_tokens", None) or self.stats.completion_tokens
            )
        choices = getattr(chunk, "choices", None) or []
        if not choices:
            return ""
        delta = choices[0].delta
        content = getattr(delta, "content", None)
        self._streamed = self._streamed or content is not None or getattr(delta, "role", None) is not None
        content = content or ""
        piece, self._split_surrogate = self._split_surrogate + content, ""
        if _ends_in_high_surrogate(piece):  # its other half comes with the next chunk
            piece, self._split_surrogate = piece[:-1], piece[-1]
        piece = _whole_characters(piece)
        if piece:
            if self.stats.first_token_at is None:
                self.stats.first_token_at = time.monotonic()
            self._pieces.append(piece)
        return piece

    def _finish(self, lit: ModuleType, wrapper: Any) -> None:
        """Close the books; a stream that never said it was done is an error."""
        self.stats.finished_at = time.monotonic()
        finish = getattr(wrapper, "received_finish_reason", None) or getattr(
            wrapper, "intermittent_finish_reason", None
        )
        if finish is None and not self._streamed:
            # Only litellm's own empty chunks: the body was no event stream (a JSON
            # answer from a proxy that ignores "stream", an HTML page, nothing).
            raise LLMConnectionError(
                f"{self.model} answered without streaming: its response had no server-sent events.",
                "Check --api-base: it should be an OpenAI-compatible URL that streams (often ending in /v1).",
                model=self.model,
            )
        if finish is None:
            # litellm ends a cut connection as if complete, and even adds a
            # synthetic "stop"; only these attributes tell the truth.
            raise IncompleteStreamError(
                f"The connection to {self.model} closed before the answer was complete "
                f"({len(self.text)} characters received).",
                partial_text=self.text,
                model=self.model,
            )
        self.stats.finish_reason = finish
        self._account(lit)

    def _leftover(self) -> str:
        """Half a character held back at the end of the stream: shown as U+FFFD, not dropped."""
        if not self._split_surrogate:
            return ""
        self._split_surrogate = ""
        self._pieces.append(REPLACEMENT_CHARACTER)
        return REPLACEMENT_CHARACTER

    def _stop_clock(self) -> None:
        """However the stream ended; a partial answer still reports what arrived."""
        if self.stats.finished_at is None:
            self.stats.finished_at = time.monotonic()
        if not self.stats.completion_tokens and self._pieces:
            self.stats.completion_tokens = len(self._pieces)  # providers send about a token a piece
            self.stats.tokens_estimated = True

    def _account(self, lit: ModuleType) -> None:
        if not self.stats.completion_tokens and self._pieces:
            try:
                self.stats.completion_tokens = lit.token_counter(model=self.model, text=self.text)
                self.stats.tokens_estimated = True
            except Exception:
                self.stats.completion_tokens = len(self._pieces)
                self.stats.tokens_estimated = True
        self.stats.cost = _cost(lit, self.model, self.stats.prompt_tokens, self.stats.completion_tokens)


class TextStream(_Request):
    """A sync iterator of text pieces, for code that cannot await (the magic).

    Use it as a context manager or call ``close()`` when stopping early:
    that closes the HTTP response at once instead of at garbage collection.
    """

    def __init__(self, prompt_or_messages: PromptOrMessages, config: LLMConfig | None = None) -> None:
        super().__init__(prompt_or_messages, config)
        self._wrapper: Any = None
        self._generator: Iterator[str] | None = None

    def __iter__(self) -> Iterator[str]:
        if self._generator is None:
            self._generator = self._run()
        return self._generator

    def __enter__(self) -> TextStream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if self._generator is not None:
            self._generator.close()
        self._close_response()

    def _close_response(self) -> None:
        wrapper, self._wrapper = self._wrapper, None
        inner = getattr(wrapper, "completion_stream", None)
        if inner is not None and hasattr(inner, "close"):
            with contextlib.suppress(Exception):  # already closed or broken: nothing to release
                inner.close()

    def _open(self, lit: ModuleType) -> Iterator[str]:
        """Start the request, retrying until the first text arrives."""
        kwargs = self._stream_kwargs(lit)
        attempt = 0
        while True:
            self.stats.attempts = attempt + 1
            try:
                self._wrapper = lit.completion(**kwargs)
                for chunk in self._wrapper:
                    piece = self._take(chunk)
                    if piece:
                        yield piece
                        return
                return
            except Exception as exc:
                self._close_response()
                delay = self._retry_delay(attempt, exc)
                if delay is None:
                    raise self._map_error(exc) from None
                time.sleep(delay)
                attempt += 1

    def _run(self) -> Iterator[str]:
        lit = load_litellm()  # the clock started when the stream was made: a wait for the import counts
        try:
            yield from self._open(lit)
            wrapper = self._wrapper
            try:
                for chunk in wrapper:
                    piece = self._take(chunk)
                    if piece:
                        yield piece
            except Exception as exc:
                raise self._map_error(exc) from None
            if leftover := self._leftover():
                yield leftover
            self._finish(lit, wrapper)
        finally:
            self._close_response()
            self._stop_clock()


class AsyncTextStream(_Request):
    """An async iterator of text pieces; ``aclose()`` or cancelling closes the response."""

    def __init__(self, prompt_or_messages: PromptOrMessages, config: LLMConfig | None = None) -> None:
        super().__init__(prompt_or_messages, config)
        self._wrapper: Any = None
        self._generator: Any = None

    def __aiter__(self) -> AsyncTextStream:
        return self

    async def __anext__(self) -> str:
        if self._generator is None:
            self._generator = self._run()
        return await self._generator.__anext__()

    async def __aenter__(self) -> AsyncTextStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._generator is not None:
            await self._generator.aclose()
        await self._close_response()

    async def _close_response(self) -> None:
        wrapper, self._wrapper = self._wrapper, None
        if wrapper is not None and hasattr(wrapper, "aclose"):
            with contextlib.suppress(Exception):
                await wrapper.aclose()

    async def _open(self, lit: ModuleType) -> AsyncIterator[str]:
        kwargs = self._stream_kwargs(lit)
        attempt = 0
        while True:
            self.stats.attempts = attempt + 1
            try:
                self._wrapper = await lit.acompletion(**kwargs)
                async for chunk in self._wrapper:
                    piece = self._take(chunk)
                    if piece:
                        yield piece
                        return
                return
            except Exception as exc:
                await self._close_response()
                delay = self._retry_delay(attempt, exc)
                if delay is None:
                    raise self._map_error(exc) from None
                await asyncio.sleep(delay)
                attempt += 1

    async def _run(self) -> AsyncIterator[str]:
        lit = load_litellm()  # the clock started when the stream was made: a wait for the import counts
        try:
            async for piece in self._open(lit):
                yield piece
            wrapper = self._wrapper
            try:
                async for chunk in wrapper:
                    piece = self._take(chunk)
                    if piece:
                        yield piece
            except Exception as exc:
                raise self._map_error(exc) from None
            if leftover := self._leftover():
                yield leftover
            self._finish(lit, wrapper)
        finally:
            await self._close_response()
            self._stop_clock()


def call_llm_stream(prompt_or_messages: PromptOrMessages, config: LLMConfig | None = None) -> AsyncTextStream:
    """Stream an answer as an async iterator of text, as the provider sends it.

    ``stream.stats`` holds timings, tokens and cost; ``stream.text`` the text
    so far. Errors are ``AgentError``; one raised mid-stream carries the text
    received in ``partial_text``. Streams are never cached.
    """
    return AsyncTextStream(prompt_or_messages, config)


def call_llm_stream_sync(prompt_or_messages: PromptOrMessages, config: LLMConfig | None = None) -> TextStream:
    """The sync twin of ``call_llm_stream`` (same request, errors and stats)."""
    return TextStream(prompt_or_messages, config)


# -- complete (non-streamed) answers, cached ---------------------------------
_cache: dict[str, tuple[float, LLMResponse]] = {}
_cache_lock = threading.Lock()


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()


def _cached(request: _Request) -> tuple[str | None, LLMResponse | None]:
    if not request.config.enable_cache:
        return None, None
    key = request.config.cache_key(request.messages)
    with _cache_lock:
        hit = _cache.get(key)
        if hit and hit[0] > time.monotonic():
            return key, LLMResponse(**{**hit[1].__dict__, "cached": True})
        _cache.pop(key, None)
    return key, None


def _store(request: _Request, key: str | None, response: LLMResponse) -> None:
    if key is not None:
        with _cache_lock:
            _cache[key] = (time.monotonic() + request.config.cache_ttl, response)


def _to_response(request: _Request, lit: ModuleType, raw: Any, started: float) -> LLMResponse:
    choice = raw.choices[0]
    usage_obj = getattr(raw, "usage", None)
    usage = {
        "prompt_tokens": getattr(usage_obj, "prompt_tokens", 0) or 0,
        "completion_tokens": getattr(usage_obj, "completion_tokens", 0) or 0,
        "total_tokens": getattr(usage_obj, "total_tokens", 0) or 0,
    }
    return LLMResponse(
        content=choice.message.content or "",
        model=request.model,
        usage=usage,
        duration=time.monotonic() - started,
        cost=_cost(lit, request.model, usage["prompt_tokens"], usage["completion_tokens"]),
        finish_reason=getattr(choice, "finish_reason", None),
    )


def call_llm(
    prompt_or_messages: PromptOrMessages, config: LLMConfig | None = None, **litellm_kwargs: Any
) -> LLMResponse:
    """A complete answer, cached in memory for ``config.cache_ttl`` seconds."""
    request = _Request(prompt_or_messages, config)
    key, hit = _cached(request)
    if hit is not None and not litellm_kwargs:
        return hit
    lit = load_litellm()
    kwargs = {**request._preflight(lit), **litellm_kwargs}
    started, attempt = time.monotonic(), 0
    while True:
        try:
            raw = lit.completion(**kwargs)
            break
        except Exception as exc:
            delay = request._retry_delay(attempt, exc)
            if delay is None:
                raise request._map_error(exc) from None
            time.sleep(delay)
            attempt += 1
    response = _to_response(request, lit, raw, started)
    if not litellm_kwargs:
        _store(request, key, response)
    return response


async def acall_llm(
    prompt_or_messages: PromptOrMessages, config: LLMConfig | None = None, **litellm_kwargs: Any
) -> LLMResponse:
    """The async twin of ``call_llm`` (same cache)."""
    request = _Request(prompt_or_messages, config)
    key, hit = _cached(request)
    if hit is not None and not litellm_kwargs:
        return hit
    lit = load_litellm()
    kwargs = {**request._preflight(lit), **litellm_kwargs}
    started, attempt = time.monotonic(), 0
    while True:
        try:
            raw = await lit.acompletion(**kwargs)
            break
        except Exception as exc:
            delay = request._retry_delay(attempt, exc)
            if delay is None:
                raise request._map_error(exc) from None
            await asyncio.sleep(delay)
            attempt += 1
    response = _to_response(request, lit, raw, started)
    if not litellm_kwargs:
        _store(request, key, response)
    return response


# -- helpers -------------------------------------------------------------------
def _cost(
    lit: ModuleType, model: str, prompt_tokens: int | None, completion_tokens: int | None
) -> float | None:
    """USD cost when litellm knows the model's price; None otherwise, never an exception."""
    if completion_tokens is None:
        return None
    try:
        prompt_cost, completion_cost = lit.cost_per_token(
            model=model, prompt_tokens=prompt_tokens or 0, completion_tokens=completion_tokens
        )
    except Exception:
        return None
    return float(prompt_cost) + float(completion_cost)


def _did_you_mean(model: str, lit: ModuleType) -> str:
    try:
        candidates = list(lit.model_cost)
    except Exception:
        return ""
    close = difflib.get_close_matches(model, candidates, n=3, cutoff=0.6)
    return f" Did you mean {', '.join(close)}?" if close else ""


_LITELLM_PREFIX = re.compile(r"^(litellm\.)?\w*(Error|Exception)\s*[:-]\s*", re.I)
_KEYLIKE = re.compile(r"\b(sk|pk|rk|key)-[A-Za-z0-9_\-*]{6,}")


def _status_code(exc: BaseException) -> int | None:
    code = getattr(exc, "status_code", None)
    return code if isinstance(code, int) else None


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


def _is_transport_error(exc: BaseException) -> bool:
    try:
        import httpx
    except ImportError:  # pragma: no cover - httpx comes with litellm
        return False
    return isinstance(exc, httpx.TransportError | ConnectionError) and not _is_timeout_type(exc)


def _is_timeout_type(exc: BaseException) -> bool:
    import httpx

    return isinstance(exc, httpx.TimeoutException | TimeoutError)


def _is_timeout(exc: BaseException) -> bool:
    return _is_timeout_type(exc) or "timed out" in str(exc).lower()


def _is_retryable(exc: BaseException) -> bool:
    """Worth another try: a rate limit, a 5xx (or 408/409), a dropped connection.

    Never a timeout (the provider is not answering: each retry would add a
    whole timeout to the wait), an exhausted quota, or another 4xx, sent as
    the HTTP status or as an in-band error event: the same request would get
    the same answer.
    """
    chain = list(_exception_chain(exc))
    status, _ = _error_status(chain)
    if _timed_out(exc, chain, status) or _is_quota(chain):
        return False
    if status is not None:
        return status in _RETRYABLE_CLIENT_ERRORS or status >= 500
    lit = _litellm
    if lit is not None and isinstance(exc, lit.RateLimitError | lit.APIConnectionError):
        return True
    code = _status_code(exc)  # litellm's own, e.g. 500 for anything raised mid-stream
    if code is not None:
        return code == 429 or code >= 500
    return any(_is_transport_error(e) for e in chain)


def _retry_after_seconds(exc: BaseException) -> float | None:
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


# -- what went wrong, in the provider's words: statuses, bodies, Retry-After --------
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


def _from_litellm(exc: BaseException) -> bool:
    return type(exc).__module__.split(".", 1)[0] == "litellm"


def _made_up_status(exc: BaseException) -> bool:
    """litellm's own classes that carry a status no server sent (500, 408)."""
    lit = _litellm
    if lit is not None and isinstance(exc, lit.APIConnectionError | lit.Timeout):
        return True
    return type(exc).__name__ == "MidStreamFallbackError"


def _error_status(chain: list[BaseException]) -> tuple[int | None, bool]:
    """The HTTP status of the failed response, or the code of an in-band error event.

    The second value is True for the latter (the HTTP response was a 200 and
    the error came in the stream). The real response is looked for first:
    litellm's own classes carry made-up statuses.
    """
    import httpx

    for error in chain:
        response = getattr(error, "response", None)
        if isinstance(response, httpx.Response) and not _from_litellm(error) and response.status_code >= 400:
            return response.status_code, False
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
    chain: list[BaseException], fallback: BaseException, secrets: list[str]
) -> tuple[str, str]:
    """The provider's message and an HTML page's title, from the first error body in the chain."""
    for error in chain:
        text = _body_text(getattr(error, "body", None))
        if text.strip():
            return _summarise(_scrub(text, secrets))
    return _exception_words(fallback, secrets)


def _exception_words(exc: BaseException, secrets: list[str]) -> tuple[str, str]:
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


def _scrub(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return _KEYLIKE.sub("***", text)


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
        return f"{path}: {item['msg']}" if path else item["msg"]
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


def _names_the_model(words: str, chain: list[BaseException]) -> bool:
    """Whether a 404 is about the model (OpenAI, Ollama) rather than the URL (a web server, FastAPI)."""
    codes = {str(getattr(e, "code", None)) for e in chain}
    return "model" in words.lower() or "model_not_found" in codes


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
    lit = _litellm
    if lit is not None and isinstance(exc, lit.Timeout):
        return True
    if any(_is_timeout_type(e) for e in chain):
        return True
    return status is None and any(_is_timeout(e) for e in chain)


def _rate_limit_hint(exc: BaseException) -> str | None:
    wait = _retry_after_seconds(exc)
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


# -- token budgets (used to trim conversation history) ----------------------------
DEFAULT_CONTEXT_WINDOW = 16_000


def context_window(model: str) -> int:
    """Input tokens the model accepts; a conservative default when litellm doesn't know."""
    lit = load_litellm()
    try:
        info = lit.get_model_info(model)
    except Exception:
        return DEFAULT_CONTEXT_WINDOW
    return int(info.get("max_input_tokens") or info.get("max_tokens") or DEFAULT_CONTEXT_WINDOW)


def count_tokens(model: str, messages: list[Message]) -> int:
    """Tokens ``messages`` take for ``model`` (litellm's tokenizer; ~4 chars a token if it fails)."""
    lit = load_litellm()
    try:
        return int(lit.token_counter(model=model, messages=messages))
    except Exception:
        return sum(len(str(m.get("content", ""))) for m in messages) // 4 + 4 * len(messages)


def list_models(provider: str | None = None) -> list[tuple[str, int | None, float | None]]:
    """Known chat models: (name, context tokens, USD per million output tokens), demo first."""
    from kagura_magic.providers import demo

    lit = load_litellm()
    rows: list[tuple[str, int | None, float | None]] = []
    for name, info in sorted(lit.model_cost.items()):
        if not isinstance(info, dict) or info.get("mode") != "chat" or name == "sample_spec":
            continue
        owner = info.get("litellm_provider", "")
        if provider and provider not in (owner, name.split("/", 1)[0]):
            continue
        price = info.get("output_cost_per_token")
        context = info.get("max_input_tokens") or info.get("max_tokens")
        rows.append((name, context, None if price is None else price * 1_000_000))
    rows.sort(key=lambda row: (not row[0].startswith(f"{demo.PROVIDER}/"), row[0]))
    return rows
