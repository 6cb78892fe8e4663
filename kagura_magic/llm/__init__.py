"""The only package that talks to litellm, split by job.

``_backend`` loads litellm (the only importer, on first use: it costs ~2 s)
and asks it things; ``_types`` holds the data; ``_request`` builds one
request and counts its chunks; ``_diagnose`` turns an exception into one
``AgentError``; ``_retry`` is the one retry loop; ``_stream`` is the stream
(``async for`` or ``for``); ``_complete`` the complete, cached answers;
``_loop`` the I/O loop everything is read on; ``_models`` the catalogue.

Importing this package imports none of litellm.
"""

from __future__ import annotations

from kagura_magic.llm._backend import (
    DEFAULT_CONTEXT_WINDOW,
    context_window,
    count_tokens,
    input_cost,
    known_context_window,
    litellm_ready,
    load_litellm,
    takes_images,
    warm_up,
)
from kagura_magic.llm._complete import acall_llm, call_llm, clear_cache
from kagura_magic.llm._diagnose import no_text_error
from kagura_magic.llm._loop import io_loop
from kagura_magic.llm._models import list_models, models_report
from kagura_magic.llm._request import UNENCODABLE_NOTE, build_messages, preflight, whole_characters
from kagura_magic.llm._stream import AsyncTextStream, TextStream, call_llm_stream, call_llm_stream_sync
from kagura_magic.llm._types import (
    LLMResponse,
    Message,
    PromptOrMessages,
    StreamEvent,
    StreamStats,
    TextEvent,
    ThinkingEvent,
    ToolCallEvent,
)

__all__ = [
    "DEFAULT_CONTEXT_WINDOW",
    "UNENCODABLE_NOTE",
    "AsyncTextStream",
    "LLMResponse",
    "Message",
    "PromptOrMessages",
    "StreamEvent",
    "StreamStats",
    "TextEvent",
    "TextStream",
    "ThinkingEvent",
    "ToolCallEvent",
    "acall_llm",
    "build_messages",
    "call_llm",
    "call_llm_stream",
    "call_llm_stream_sync",
    "clear_cache",
    "context_window",
    "count_tokens",
    "input_cost",
    "io_loop",
    "known_context_window",
    "list_models",
    "litellm_ready",
    "load_litellm",
    "models_report",
    "no_text_error",
    "preflight",
    "takes_images",
    "warm_up",
    "whole_characters",
]
