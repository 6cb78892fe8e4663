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

_EXPORTS = {
    "LLMConfig": "kagura_magic.config",
    "AgentError": "kagura_magic.errors",
    "LLMResponse": "kagura_magic.llm",
    "StreamStats": "kagura_magic.llm",
    "call_llm": "kagura_magic.llm",
    "acall_llm": "kagura_magic.llm",
    "call_llm_stream": "kagura_magic.llm",
    "call_llm_stream_sync": "kagura_magic.llm",
    "agent": "kagura_magic.decorators",
}

__all__ = [*_EXPORTS, "load_ipython_extension", "unload_ipython_extension"]

if TYPE_CHECKING:  # pragma: no cover - names for type checkers and IDEs only
    from kagura_magic.config import LLMConfig  # noqa: F401
    from kagura_magic.decorators import agent  # noqa: F401
    from kagura_magic.errors import AgentError  # noqa: F401
    from kagura_magic.llm import (  # noqa: F401
        LLMResponse,
        StreamStats,
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
