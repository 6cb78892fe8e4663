"""``@agent``: a function whose docstring is the prompt.

As in Kagura: the docstring is a Jinja2 template over the function's
arguments, and calling the function asks the model. ``@agent`` returns the
answer (awaitable when the function is ``async def``); ``@agent(stream=True)``
returns the async text iterator of ``call_llm_stream`` (with ``.stats``).
The function body is never run: the signature only names the template's
variables and gives defaults.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar, overload

from kagura_magic.config import LLMConfig
from kagura_magic.errors import ConfigurationError, StreamingNotSupportedError
from kagura_magic.llm import AsyncTextStream, acall_llm, call_llm, call_llm_stream
from kagura_magic.templating import render_template

F = TypeVar("F", bound=Callable[..., Any])

_CONFIG_FIELDS = {
    "model",
    "temperature",
    "max_tokens",
    "top_p",
    "api_base",
    "api_key",
    "system_prompt",
}


@overload
def agent(fn: F) -> F: ...


@overload
def agent(
    fn: None = None,
    *,
    stream: bool = False,
    config: LLMConfig | None = None,
    tools: list[Callable[..., Any]] | None = None,
    **litellm_kwargs: Any,
) -> Callable[[F], F]: ...


def agent(
    fn: Callable[..., Any] | None = None,
    *,
    stream: bool = False,
    config: LLMConfig | None = None,
    tools: list[Callable[..., Any]] | None = None,
    **litellm_kwargs: Any,
) -> Any:
    """Turn a function with a prompt docstring into a model call.

    ``config`` sets the request; other keyword arguments (``model=``,
    ``temperature=``, or any litellm parameter) override it.
    """
    if stream and tools:
        raise StreamingNotSupportedError(
            "@agent(stream=True) cannot be combined with tools=.",
            "Tool calls need the complete answer before they run; use stream=False with tools.",
        )
    if tools:
        raise ConfigurationError(
            "@agent(tools=...) is not supported yet.",
            "Call the tools yourself from the answer, or use litellm directly for function calling.",
        )
    base = _merge_config(config, litellm_kwargs)

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        template = inspect.getdoc(func)
        if not template:
            raise ConfigurationError(
                f"@agent function {func.__name__}() has no docstring.",
                'Write the prompt as the docstring, e.g. """Summarise {{ text }}""".',
            )
        signature = inspect.signature(func)

        def prompt_for(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            return render_template(template, dict(bound.arguments))

        if stream:

            @functools.wraps(func)
            def streaming(*args: Any, **kwargs: Any) -> AsyncTextStream:
                return call_llm_stream(prompt_for(args, kwargs), base)

            return streaming

        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def asking(*args: Any, **kwargs: Any) -> str:
                return (await acall_llm(prompt_for(args, kwargs), base)).content

            return asking

        @functools.wraps(func)
        def answering(*args: Any, **kwargs: Any) -> str:
            return call_llm(prompt_for(args, kwargs), base).content

        return answering

    return decorate(fn) if fn is not None else decorate


def _merge_config(config: LLMConfig | None, kwargs: dict[str, Any]) -> LLMConfig:
    """``config`` with named fields from kwargs applied; the rest go to litellm."""
    config = config or LLMConfig()
    fields = {k: v for k, v in kwargs.items() if k in _CONFIG_FIELDS}
    extra = {**config.extra, **{k: v for k, v in kwargs.items() if k not in _CONFIG_FIELDS}}
    return config.replace(**fields, extra=extra)
