"""kagura-magic: stream any litellm model into Jupyter as Markdown that never looks broken.

``%load_ext kagura_magic`` registers ``%%agent``. The Python API (``LLMConfig``,
``call_llm``, ``call_llm_stream``, ``@agent``) works in scripts too.

Importing this package must stay fast (it runs on every ``%load_ext``), so the
public names are resolved lazily and litellm is imported only on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_ERRORS = (
    "AgentError",
    "ConfigurationError",
    "TemplateError",
    "ImageError",
    "FormatError",
    "MissingAPIKeyError",
    "AuthenticationError",
    "PermissionDeniedError",
    "UnknownModelError",
    "RateLimitError",
    "QuotaExceededError",
    "ContextWindowError",
    "LLMTimeoutError",
    "LLMConnectionError",
    "IncompleteStreamError",
    "ProviderError",
    "StreamingNotSupportedError",
)
_EXPORTS = {
    "LLMConfig": "kagura_magic.config",
    "LLMResponse": "kagura_magic.llm",
    "StreamStats": "kagura_magic.llm",
    "TextEvent": "kagura_magic.llm",
    "ThinkingEvent": "kagura_magic.llm",
    "ToolCallEvent": "kagura_magic.llm",
    "AsyncTextStream": "kagura_magic.llm",
    "TextStream": "kagura_magic.llm",
    "call_llm": "kagura_magic.llm",
    "acall_llm": "kagura_magic.llm",
    "call_llm_stream": "kagura_magic.llm",
    "call_llm_stream_sync": "kagura_magic.llm",
    "agent": "kagura_magic.decorators",
    "show_stream": "kagura_magic.answer",
    "image": "kagura_magic.images",
    "PromptImage": "kagura_magic.images",
    **dict.fromkeys(_ERRORS, "kagura_magic.errors"),
}

__all__ = [
    "AgentError",
    "AsyncTextStream",
    "AuthenticationError",
    "ConfigurationError",
    "ContextWindowError",
    "FormatError",
    "ImageError",
    "IncompleteStreamError",
    "LLMConfig",
    "LLMConnectionError",
    "LLMResponse",
    "LLMTimeoutError",
    "MissingAPIKeyError",
    "PermissionDeniedError",
    "PromptImage",
    "ProviderError",
    "QuotaExceededError",
    "RateLimitError",
    "StreamStats",
    "StreamingNotSupportedError",
    "TemplateError",
    "TextEvent",
    "TextStream",
    "ThinkingEvent",
    "ToolCallEvent",
    "UnknownModelError",
    "acall_llm",
    "agent",
    "call_llm",
    "call_llm_stream",
    "call_llm_stream_sync",
    "image",
    "load_ipython_extension",
    "show_stream",
    "unload_ipython_extension",
]

if TYPE_CHECKING:  # pragma: no cover - names for type checkers and IDEs only
    from kagura_magic.answer import show_stream
    from kagura_magic.config import LLMConfig
    from kagura_magic.decorators import agent
    from kagura_magic.errors import (
        AgentError,
        AuthenticationError,
        ConfigurationError,
        ContextWindowError,
        FormatError,
        ImageError,
        IncompleteStreamError,
        LLMConnectionError,
        LLMTimeoutError,
        MissingAPIKeyError,
        PermissionDeniedError,
        ProviderError,
        QuotaExceededError,
        RateLimitError,
        StreamingNotSupportedError,
        TemplateError,
        UnknownModelError,
    )
    from kagura_magic.images import PromptImage, image
    from kagura_magic.llm import (
        AsyncTextStream,
        LLMResponse,
        StreamStats,
        TextEvent,
        TextStream,
        ThinkingEvent,
        ToolCallEvent,
        acall_llm,
        call_llm,
        call_llm_stream,
        call_llm_stream_sync,
    )


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'kagura_magic' has no attribute {name!r}")


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext kagura_magic``: register the magics and warm litellm up."""
    from kagura_magic.magic import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    from kagura_magic.magic import unload_ipython_extension as unload

    unload(ipython)
