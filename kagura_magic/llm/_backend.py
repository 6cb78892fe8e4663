"""litellm itself: loaded once, warmed in the background, and asked things through typed calls.

The only module that imports litellm (it costs ~2 s and ~160 MB, so on first
use, never at import). ``load_litellm`` also switches off its network fetch
of the price list at import, its banners and its log noise, and masks every
known secret in the log records it still writes. Everything else
in the package goes through the functions below, which turn litellm's untyped
answers into plain values and its exceptions into "don't know" (``None``), so
an unmapped model or a litellm quirk never becomes a crash of ours.
"""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import logging
import os
import threading
import warnings
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from kagura_magic import secrets
from kagura_magic.llm._loop import io_loop
from kagura_magic.llm._types import Message

_litellm: ModuleType | None = None
_litellm_lock = threading.Lock()
_LITELLM_LOGGERS = ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy", "litellm")

DEFAULT_CONTEXT_WINDOW = 16_000


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
            for name in _LITELLM_LOGGERS:
                logger = logging.getLogger(name)
                if not os.environ.get("LITELLM_LOG"):
                    logger.setLevel(logging.CRITICAL)
                logger.addFilter(_mask_record)  # LITELLM_LOG=DEBUG prints requests, keys and all
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


def _mask_record(record: logging.LogRecord) -> bool:
    """A litellm log record with every known secret masked (``kagura_magic.secrets``)."""
    record.msg, record.args = secrets.mask(record.getMessage()), None
    if record.exc_info:
        record.exc_text = secrets.mask(logging.Formatter().formatException(record.exc_info))
        record.exc_info = None
    return True


def litellm_ready() -> bool:
    """True once litellm is imported, so offline checks cost nothing."""
    return _litellm is not None


def warm_up() -> None:
    """Pay litellm's import and first-call cost now, so the first real call doesn't.

    Asks what a request's preflight asks and runs one tiny ``demo/echo``
    stream, which sets up litellm's lazily built provider tables, logging
    objects and thread pool; on the I/O loop, because that is where real
    streams are read and litellm's async clients are per loop. Callers run it
    on a background thread (the extension does, when it loads). An
    optimisation only: the real call reports any error.
    """
    model = "demo/echo"

    async def one_request() -> None:
        messages = [{"role": "user", "content": "warm up"}]
        provider = provider_of(model, None) or ""
        supports_param(model, provider, "stream_options")
        wrapper = await acompletion(model=model, messages=messages, stream=True, tokens_per_second=0)
        async for chunk in wrapper:
            getattr(chunk, "choices", None)
        cost(model, 1, 1)

    with contextlib.suppress(Exception):
        load_litellm()
        missing_keys("gpt-4o-mini", None)
        asyncio.run_coroutine_threadsafe(one_request(), io_loop()).result()


# -- what a request asks before and after the call ------------------------------------
def provider_of(model: str, api_base: str | None) -> str | None:
    """The provider litellm routes ``model`` to; None when it cannot tell."""
    try:
        return str(load_litellm().get_llm_provider(model, api_base=api_base)[1])
    except Exception:
        return None


def close_model_names(model: str) -> list[str]:
    """Known model names that look like ``model`` (for "did you mean")."""
    try:
        candidates = list(load_litellm().model_cost)
    except Exception:
        return []
    return difflib.get_close_matches(model, candidates, n=3, cutoff=0.6)


def missing_keys(model: str, api_base: str | None) -> list[str] | None:
    """Environment variables ``model`` needs that are not set; None when litellm cannot tell offline."""
    try:
        found = load_litellm().validate_environment(model, api_base=api_base)
        return [str(name) for name in found.get("missing_keys", [])]
    except Exception:
        return None


def supports_param(model: str, provider: str, param: str) -> bool:
    """Whether ``provider`` takes the OpenAI parameter ``param`` for ``model``."""
    try:
        supported = load_litellm().get_supported_openai_params(model=model, custom_llm_provider=provider)
    except Exception:
        return False
    return bool(supported) and param in supported


async def acompletion(**kwargs: Any) -> Any:
    """litellm's ``acompletion``: a response, or for ``stream=True`` its stream wrapper."""
    return await load_litellm().acompletion(**kwargs)


def cost(model: str, prompt_tokens: int | None, completion_tokens: int | None) -> float | None:
    """USD cost when litellm knows the model's price; None otherwise, never an exception."""
    if completion_tokens is None:
        return None
    try:
        prompt_cost, completion_cost = load_litellm().cost_per_token(
            model=model, prompt_tokens=prompt_tokens or 0, completion_tokens=completion_tokens
        )
    except Exception:
        return None
    return float(prompt_cost) + float(completion_cost)


def input_cost(model: str, prompt_tokens: int) -> float | None:
    """USD for sending ``prompt_tokens`` to ``model``, before any answer; None when unpriced."""
    return cost(model, prompt_tokens, 0)


def count_text_tokens(model: str, text: str) -> int | None:
    """Tokens ``text`` takes for ``model``; None when litellm's tokenizer fails."""
    try:
        return int(load_litellm().token_counter(model=model, text=text))
    except Exception:
        return None


# -- token budgets (used to trim conversation history) ----------------------------------
def context_window(model: str) -> int:
    """Input tokens the model accepts; a conservative default when litellm doesn't know."""
    return known_context_window(model) or DEFAULT_CONTEXT_WINDOW


def known_context_window(model: str) -> int | None:
    """Input tokens the model accepts, as litellm knows them; None when it does not."""
    lit = load_litellm()
    try:
        info = lit.get_model_info(model)
    except Exception:
        return None
    window = info.get("max_input_tokens") or info.get("max_tokens")
    return int(window) if window else None


def takes_images(model: str) -> bool | None:
    """Whether litellm's model list says ``model`` takes images; None when it does not say.

    Only a known "no" refuses a prompt with pictures: many vision models (local
    ones, new ones, resold ones) are not in the list, or are without the flag.
    """
    try:
        flag = load_litellm().get_model_info(model).get("supports_vision")
    except Exception:
        return None
    return flag if isinstance(flag, bool) else None


def count_tokens(model: str, messages: list[Message]) -> int:
    """Tokens ``messages`` take for ``model`` (litellm's tokenizer; ~4 chars a token if it fails)."""
    lit = load_litellm()
    try:
        return int(lit.token_counter(model=model, messages=messages))
    except Exception:
        return sum(len(str(m.get("content", ""))) for m in messages) // 4 + 4 * len(messages)


# -- the catalogue ----------------------------------------------------------------------
@dataclass(frozen=True)
class ModelInfo:
    """One chat model litellm knows: its name, provider, context and output price."""

    name: str
    provider: str
    context: int | None
    usd_per_million_output: float | None


def chat_models() -> list[ModelInfo]:
    """Every chat model in litellm's price list, sorted by name."""
    rows: list[ModelInfo] = []
    for name, info in sorted(load_litellm().model_cost.items()):
        if not isinstance(info, dict) or info.get("mode") != "chat" or name == "sample_spec":
            continue
        price = info.get("output_cost_per_token")
        context = info.get("max_input_tokens") or info.get("max_tokens")
        rows.append(
            ModelInfo(
                name=str(name),
                provider=str(info.get("litellm_provider", "")),
                context=int(context) if context else None,
                usd_per_million_output=None if price is None else float(price) * 1_000_000,
            )
        )
    return rows
