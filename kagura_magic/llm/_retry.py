"""The one retry loop, for every call site: before the first token only.

A stream is retried while opening it (until its first piece of text), a
complete answer while waiting for it; never after text has reached the
reader, because a retry would repeat what they already read. The wait is
what the provider asked for (``Retry-After``, capped), else an exponential
backoff with a little jitter so parallel cells don't retry in step.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from kagura_magic.llm._diagnose import is_retryable, retry_after_seconds

T = TypeVar("T")

MAX_RETRY_AFTER = 30.0
"""The longest wait a provider's Retry-After may impose; beyond it we report the rate limit."""


def retry_delay(attempt: int, exc: BaseException, *, max_retries: int, backoff: float) -> float | None:
    """Seconds to wait after failed attempt number ``attempt`` (from 0), or None when it must not retry."""
    if attempt >= max_retries or not is_retryable(exc):
        return None
    retry_after = retry_after_seconds(exc)
    if retry_after is not None:
        return min(retry_after, MAX_RETRY_AFTER)
    return backoff * 2.0**attempt * (1 + random.random() / 10)


async def with_retries(
    attempt: Callable[[], Awaitable[T]],
    *,
    max_retries: int,
    backoff: float,
    on_attempt: Callable[[int], None] | None = None,
    after_failure: Callable[[], Awaitable[None]] | None = None,
) -> T:
    """``await attempt()`` until it succeeds or ``retry_delay`` says stop; then its last error is raised.

    ``on_attempt(n)`` is told each attempt's number (from 1) before it starts;
    ``after_failure()`` releases what a failed attempt left open (a response).
    """
    number = 0
    while True:
        if on_attempt is not None:
            on_attempt(number + 1)
        try:
            return await attempt()
        except Exception as exc:
            if after_failure is not None:
                await after_failure()
            delay = retry_delay(number, exc, max_retries=max_retries, backoff=backoff)
            if delay is None:
                raise
            await asyncio.sleep(delay)
            number += 1
