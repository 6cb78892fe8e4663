"""The offline demo models, plugged into litellm as a real custom provider.

Registering through ``litellm.custom_provider_map`` (rather than faking
litellm's output ourselves) means the demo runs through litellm's own
``CustomStreamWrapper``: the same chunk objects, usage chunk, finish reasons
and cost accounting as a real provider. So the notebooks and the CI exercise
the product's real streaming path, with no network and no key.

Models:

* ``demo/echo`` streams the last user message back verbatim.
* ``demo/showcase``, ``demo/story``, ``demo/code`` stream canned answers.
* ``demo/thinker`` thinks first, as structured reasoning (``delta.reasoning_content``, as
  OpenAI-compatible reasoning models, DeepSeek and litellm-mapped Claude send it), then answers.
* ``demo/thinker-inline`` sends the same thinking inline in ``<think>…</think>``, as local
  reasoning models (Qwen3, DeepSeek-R1 through Ollama or vLLM) do.
* ``demo/tools`` answers with a tool call only (``get_weather``), no text.
* ``demo/vision`` takes images: it answers with each picture's size, format and main colours,
  read from the bytes it was sent (``demo_vision.py``). The other demo models take none, as
  litellm's model list records, so a prompt with a picture is refused before it is sent.

Params (passed as litellm kwargs, e.g. ``--param tokens_per_second=0``):

* ``tokens_per_second`` (default 50; 0 streams as fast as possible)
* ``fail_after`` (characters, thinking and call arguments counted): drop the
  "connection" after that much, to show how errors keep the partial answer.

Reasoning goes out as litellm's own ``ModelResponseStream`` chunks, since its
``GenericStreamingChunk`` has no reasoning field; text and tool calls stay generic
chunks, as most custom providers send them.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any, Protocol, TypeAlias

from litellm.llms.custom_llm import CustomLLM, CustomLLMError
from litellm.types.llms.custom_llm import CustomLLMItem
from litellm.types.llms.openai import ChatCompletionUsageBlock
from litellm.types.utils import (
    Delta,
    GenericStreamingChunk,
    ModelResponse,
    ModelResponseStream,
    StreamingChoices,
    Usage,
)

from kagura_magic.providers.demo_answers import REPLIES, Reply, ToolCall
from kagura_magic.providers.demo_vision import vision_reply

PROVIDER = "demo"
DEFAULT_TOKENS_PER_SECOND = 50.0
VISION_MODEL = "vision"
DEMO_MODELS: tuple[str, ...] = ("echo", *REPLIES, VISION_MODEL)
DEMO_CONTEXT_WINDOW = 128_000

# About four characters a piece, as real tokenizers cut English: leading
# whitespace travels with the word that follows it.
_TOKEN_PIECE = re.compile(r"\s*\S{1,4}|\s+")


def split_into_tokens(text: str) -> list[str]:
    """Cut ``text`` into token-sized pieces that join back to exactly ``text``."""
    return _TOKEN_PIECE.findall(text)


def _message_text(message: dict[str, Any]) -> str:
    content = message.get("content") or ""
    if isinstance(content, list):  # OpenAI "parts" format
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return str(content)


def reply_for(model: str, messages: list[dict[str, Any]]) -> Reply:
    """What a demo model answers with."""
    name = model.split("/", 1)[-1]
    if name == "echo":
        users = [m for m in messages if m.get("role") == "user"]
        return Reply(_message_text(users[-1]) if users else "")
    if name == VISION_MODEL:
        return Reply(vision_reply(messages))
    if name in REPLIES:
        return REPLIES[name]
    known = ", ".join(f"demo/{n}" for n in DEMO_MODELS)
    raise _error(404, f"Unknown demo model {model!r}; known: {known}.")


def _error(status_code: int, message: str) -> CustomLLMError:
    """litellm's error for custom providers: it reaches the caller with this status code."""
    return CustomLLMError(status_code=status_code, message=message)  # type: ignore[no-untyped-call]


def _rate(optional_params: dict[str, Any]) -> float:
    try:
        rate = float(optional_params.get("tokens_per_second", DEFAULT_TOKENS_PER_SECOND))
    except (TypeError, ValueError):
        raise _error(400, "tokens_per_second must be a number.") from None
    return max(rate, 0.0)


def _fail_after(optional_params: dict[str, Any]) -> int | None:
    value = optional_params.get("fail_after")
    return None if value is None else int(value)


def _usage(messages: list[dict[str, Any]], reply: Reply) -> ChatCompletionUsageBlock:
    prompt = sum(len(_message_text(m)) for m in messages) // 4 + 1
    reasoning = len(split_into_tokens(reply.reasoning))
    pieces = reasoning + len(split_into_tokens(reply.content))
    pieces += sum(1 + len(split_into_tokens(call.arguments)) for call in reply.tool_calls)
    usage: ChatCompletionUsageBlock = {
        "prompt_tokens": prompt,
        "completion_tokens": pieces,
        "total_tokens": prompt + pieces,
    }
    if reasoning:  # as OpenAI reports it; litellm.Usage takes the details as they are
        usage["completion_tokens_details"] = {"reasoning_tokens": reasoning}
    return usage


StreamChunk: TypeAlias = GenericStreamingChunk | ModelResponseStream


def _plan(
    model: str, messages: list[dict[str, Any]], optional_params: dict[str, Any]
) -> tuple[list[tuple[StreamChunk, int]], float, int | None]:
    """Chunks to send, each with its size in characters, and where to fail.

    Made afresh for every request: litellm edits the chunk objects it is given.
    """
    reply = reply_for(model, messages)
    chunks: list[tuple[StreamChunk, int]] = [
        (_thinking_chunk(piece), len(piece)) for piece in split_into_tokens(reply.reasoning)
    ]
    chunks += [(_text_chunk(piece), len(piece)) for piece in split_into_tokens(reply.content)]
    for index, call in enumerate(reply.tool_calls):
        chunks.append((_call_chunk(index, call, ""), len(call.name)))
        chunks += [
            (_call_chunk(index, None, piece), len(piece)) for piece in split_into_tokens(call.arguments)
        ]
    chunks.append((_final_chunk(messages, reply), 0))
    return chunks, _rate(optional_params), _fail_after(optional_params)


def _thinking_chunk(text: str) -> ModelResponseStream:
    return ModelResponseStream(choices=[StreamingChoices(index=0, delta=Delta(reasoning_content=text))])


def _text_chunk(text: str) -> GenericStreamingChunk:
    return {"text": text, "is_finished": False, "finish_reason": "", "usage": None, "index": 0}


def _call_chunk(index: int, call: ToolCall | None, arguments: str) -> GenericStreamingChunk:
    """A piece of a tool call: the first names it, the rest carry its arguments, as OpenAI streams."""
    chunk = _text_chunk("")
    chunk["tool_use"] = {
        "id": call.id if call else None,
        "type": "function",
        "function": {"name": call.name if call else None, "arguments": arguments},
        "index": index,
    }
    return chunk


def _final_chunk(messages: list[dict[str, Any]], reply: Reply) -> GenericStreamingChunk:
    return {
        "text": "",
        "is_finished": True,
        "finish_reason": reply.finish_reason,
        "usage": _usage(messages, reply),
        "index": 0,
    }


def _check_failure(sent_chars: int, fail_after: int | None) -> None:
    if fail_after is not None and sent_chars >= fail_after:
        raise ConnectionResetError("connection reset by peer (demo fail_after)")


class DemoLLM(CustomLLM):
    """litellm handler for ``demo/*``: deterministic answers at a set pace."""

    def streaming(  # type: ignore[override]  # reasoning needs litellm's own chunk type
        self, model: str, messages: list[dict[str, Any]], *args: Any, **kwargs: Any
    ) -> Iterator[StreamChunk]:
        chunks, rate, fail_after = _plan(model, messages, kwargs.get("optional_params") or {})
        start, sent = time.monotonic(), 0
        for index, (chunk, size) in enumerate(chunks):
            if rate and size:
                # Sleep to a schedule, not a fixed gap, so the rate holds even
                # when the consumer is slow for a moment.
                delay = start + index / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            if size:
                _check_failure(sent, fail_after)
            sent += size
            yield chunk

    # litellm declares astreaming a coroutine that returns an iterator, yet iterates what the
    # call returns (``completion_stream=response``): an async generator, as its docs show.
    async def astreaming(  # type: ignore[override]
        self, model: str, messages: list[dict[str, Any]], *args: Any, **kwargs: Any
    ) -> AsyncIterator[StreamChunk]:
        chunks, rate, fail_after = _plan(model, messages, kwargs.get("optional_params") or {})
        start, sent = time.monotonic(), 0
        for index, (chunk, size) in enumerate(chunks):
            if rate and size:
                delay = start + index / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            if size:
                _check_failure(sent, fail_after)
            sent += size
            yield chunk

    def completion(
        self, model: str, messages: list[dict[str, Any]], *args: Any, **kwargs: Any
    ) -> ModelResponse:
        reply = reply_for(model, messages)
        message: dict[str, Any] = {"role": "assistant", "content": reply.content or None}
        if reply.reasoning:
            message["reasoning_content"] = reply.reasoning
        if reply.tool_calls:
            message["tool_calls"] = [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                for c in reply.tool_calls
            ]
        return ModelResponse(
            model=model,
            choices=[{"index": 0, "finish_reason": reply.finish_reason, "message": message}],
            usage=Usage(**_usage(messages, reply)),
        )

    async def acompletion(
        self, model: str, messages: list[dict[str, Any]], *args: Any, **kwargs: Any
    ) -> ModelResponse:
        return self.completion(model, messages, *args, **kwargs)


class Litellm(Protocol):
    """What ``register`` needs of the ``litellm`` module."""

    custom_provider_map: list[CustomLLMItem]

    def register_model(self, model_cost: str | dict[str, Any]) -> object: ...


def register(litellm: Litellm) -> None:
    """Make ``demo/*`` callable through litellm (idempotent)."""
    if any(item.get("provider") == PROVIDER for item in litellm.custom_provider_map):
        return
    litellm.custom_provider_map = [
        *litellm.custom_provider_map,
        {"provider": PROVIDER, "custom_handler": DemoLLM()},
    ]
    zero_cost = {
        "max_tokens": 8192,
        "max_input_tokens": DEMO_CONTEXT_WINDOW,
        "max_output_tokens": 8192,
        "input_cost_per_token": 0.0,
        "output_cost_per_token": 0.0,
        "cache_creation_input_token_cost": 0.0,
        "cache_read_input_token_cost": 0.0,
        "litellm_provider": PROVIDER,
        "mode": "chat",
    }
    litellm.register_model(
        {f"{PROVIDER}/{name}": {**zero_cost, "supports_vision": name == VISION_MODEL} for name in DEMO_MODELS}
    )
    # litellm adds custom providers to its provider list lazily, on the first
    # call; do it now so model lookups (get_llm_provider) know "demo" already.
    from litellm.utils import custom_llm_setup

    custom_llm_setup()  # type: ignore[no-untyped-call]
