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

import asyncio
import contextlib
import difflib
import json
import logging
import os
import random
import re
import threading
import time
import warnings
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from kagura_magic.config import LLMConfig, is_secret_name
from kagura_magic.errors import (
    AgentError,
    AuthenticationError,
    ContextWindowError,
    IncompleteStreamError,
    LLMConnectionError,
    LLMTimeoutError,
    MissingAPIKeyError,
    ProviderError,
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
    try:
        for _ in call_llm_stream_sync(
            "warm up", LLMConfig(model="demo/echo", extra={"tokens_per_second": 0})
        ):
            pass
    except Exception:  # warm-up is an optimisation; the real call reports errors
        pass


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


class _Request:
    """What the sync and async paths share: building, preflight, mapping, accounting."""

    def __init__(self, prompt_or_messages: PromptOrMessages, config: LLMConfig | None) -> None:
        self.config = config or LLMConfig()
        self.model = self.config.resolved_model()
        self.messages = build_messages(prompt_or_messages, self.config.system_prompt)
        self.stats = StreamStats(model=self.model)
        self._pieces: list[str] = []

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
        kind, message = self._classify(exc)
        if self._pieces and kind is not ContextWindowError:
            message += f" ({len(self.text)} characters were received.)"
        return kind(message, partial_text=self.text, model=self.model)

    def _classify(self, exc: BaseException) -> tuple[type[AgentError], str]:
        """The error kind and its first line.

        litellm wraps errors raised mid-stream (``MidStreamFallbackError``,
        a 5xx), so the cause chain is searched for what really happened.
        """
        secrets = self._secrets()
        chain = list(_exception_chain(exc))
        transport = next((e for e in chain if _is_transport_error(e)), None)
        detail = _short_detail(transport or exc, secrets)
        lit = _litellm
        if lit is not None:
            if isinstance(exc, lit.ContextWindowExceededError):
                return ContextWindowError, f"The conversation is too long for {self.model}."
            if isinstance(exc, lit.AuthenticationError | lit.PermissionDeniedError):
                return AuthenticationError, f"{self.model} rejected the credentials: {detail}"
            if isinstance(exc, lit.NotFoundError):
                return UnknownModelError, f"{self.model} was not found by the provider: {detail}"
            if isinstance(exc, lit.RateLimitError):
                return RateLimitError, f"{self.model} is rate limited: {detail}"
        if any(_is_timeout(e) for e in chain) or (lit is not None and isinstance(exc, lit.Timeout)):
            return (
                LLMTimeoutError,
                f"{self.model} stopped answering (no data for {self.config.timeout:g} s).",
            )
        if any(isinstance(e, json.JSONDecodeError) for e in chain):
            return ProviderError, f"{self.model} sent a malformed response (not valid JSON)."
        if transport is not None or (lit is not None and isinstance(exc, lit.APIConnectionError)):
            return LLMConnectionError, f"Connection to {self.model} failed: {detail}"
        return ProviderError, f"{self.model}: {detail}"

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
        piece = getattr(choices[0].delta, "content", None) or ""
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


def _short_detail(exc: BaseException, secrets: list[str]) -> str:
    """The provider's own words, without litellm's prefixes, links or any key."""
    text = str(getattr(exc, "message", None) or exc) or type(exc).__name__
    for secret in secrets:
        text = text.replace(secret, "***")
    text = _KEYLIKE.sub("***", text)
    line = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    previous = None
    while previous != line:
        previous, line = line, _LITELLM_PREFIX.sub("", line).strip()
    line = re.sub(r"\s*(Received Model Group|Available Model Group|LiteLLM Retried).*$", "", line)
    line = re.sub(r"\s*Learn more:.*$", "", line)
    return (line[:200] + "…") if len(line) > 200 else (line or type(exc).__name__)


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
    lit = _litellm
    if lit is not None:
        if isinstance(exc, lit.Timeout):
            return False
        if isinstance(exc, lit.RateLimitError | lit.APIConnectionError):
            return True
    code = _status_code(exc)
    if code is not None:
        return code == 429 or code >= 500
    return any(_is_transport_error(e) for e in _exception_chain(exc))


def _retry_after_seconds(exc: BaseException) -> float | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if not headers:
        return None
    value = headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


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
