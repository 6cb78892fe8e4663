"""Complete (non-streamed) answers, remembered for a while.

``acall_llm`` is the one implementation; ``call_llm`` is its sync adapter,
run on the I/O loop (which works inside a kernel, where ``asyncio.run``
cannot, and lets Ctrl-C cancel the request). Answers are cached in memory
by everything that shapes them (never the key) for ``config.cache_ttl``
seconds, in a cache bounded in entries so a long session cannot grow it
without end. A call with extra litellm keyword arguments is neither served
from nor stored in the cache: those arguments are not part of its key.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import replace
from typing import Any

from kagura_magic.config import LLMConfig
from kagura_magic.llm import _backend as backend
from kagura_magic.llm._loop import run_sync
from kagura_magic.llm._request import Request
from kagura_magic.llm._retry import with_retries
from kagura_magic.llm._types import LLMResponse, PromptOrMessages

MAX_CACHED_ANSWERS = 256


class TTLCache:
    """A thread-safe map whose entries expire, holding at most ``max_entries`` (oldest use goes first)."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[str, tuple[float, LLMResponse]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> LLMResponse | None:
        with self._lock:
            hit = self._entries.get(key)
            if hit is None:
                return None
            if hit[0] <= time.monotonic():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return hit[1]

    def put(self, key: str, value: LLMResponse, ttl: float) -> None:
        with self._lock:
            self._entries[key] = (time.monotonic() + ttl, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


_cache = TTLCache(MAX_CACHED_ANSWERS)


def clear_cache() -> None:
    """Forget every cached answer."""
    _cache.clear()


async def acall_llm(
    prompt_or_messages: PromptOrMessages, config: LLMConfig | None = None, **litellm_kwargs: Any
) -> LLMResponse:
    """A complete answer, cached in memory for ``config.cache_ttl`` seconds."""
    request = Request(prompt_or_messages, config)
    cacheable = request.config.enable_cache and not litellm_kwargs
    key = request.config.cache_key(request.messages) if cacheable else None
    if key is not None and (hit := _cache.get(key)) is not None:
        return replace(hit, cached=True)
    kwargs = {**request.kwargs(), **litellm_kwargs}
    started = time.monotonic()

    async def ask() -> Any:
        return await backend.acompletion(**kwargs)

    try:
        raw = await with_retries(
            ask, max_retries=request.config.max_retries, backoff=request.config.retry_backoff
        )
    except Exception as exc:
        raise request.error(exc) from None
    response = _to_response(request, raw, started)
    if key is not None:
        _cache.put(key, response, request.config.cache_ttl)
    return response


def call_llm(
    prompt_or_messages: PromptOrMessages, config: LLMConfig | None = None, **litellm_kwargs: Any
) -> LLMResponse:
    """The sync twin of ``acall_llm`` (same cache); Ctrl-C while waiting cancels the request."""
    return run_sync(acall_llm(prompt_or_messages, config, **litellm_kwargs))


def _to_response(request: Request, raw: Any, started: float) -> LLMResponse:
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
        cost=backend.cost(request.model, usage["prompt_tokens"], usage["completion_tokens"]),
        finish_reason=getattr(choice, "finish_reason", None),
    )
