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
from collections.abc import Callable, Coroutine
from typing import Any, Literal, ParamSpec, Protocol, TypeAlias, overload

from kagura_magic.config import LLMConfig
from kagura_magic.errors import ConfigurationError, StreamingNotSupportedError
from kagura_magic.llm import AsyncTextStream, acall_llm, call_llm, call_llm_stream
from kagura_magic.templating import render_template

P = ParamSpec("P")

AsyncAnswer: TypeAlias = Coroutine[Any, Any, str]
Answer: TypeAlias = str | AsyncAnswer | AsyncTextStream
"""What a decorated function returns: the answer, an awaitable answer, or the stream."""
_AsyncDef: TypeAlias = Callable[P, Coroutine[Any, Any, object]]

_CONFIG_FIELDS = {
    "model",
    "temperature",
    "max_tokens",
    "top_p",
    "api_base",
    "api_key",
    "system_prompt",
}


class AnswerDecorator(Protocol):
    """``@agent(...)`` without ``stream=True``: the answer, awaitable for an ``async def``."""

    @overload
    def __call__(self, fn: _AsyncDef[P], /) -> Callable[P, AsyncAnswer]: ...  # type: ignore[overload-overlap]
    @overload
    def __call__(self, fn: Callable[P, object], /) -> Callable[P, str]: ...


class StreamDecorator(Protocol):
    """``@agent(stream=True, ...)``: the text stream, whatever the function's own kind."""

    def __call__(self, fn: Callable[P, object], /) -> Callable[P, AsyncTextStream]: ...


class AnyDecorator(Protocol):
    """``@agent(stream=flag)`` with a flag only known when it runs."""

    def __call__(self, fn: Callable[P, object], /) -> Callable[P, Answer]: ...


# The function's own return annotation is not what a call returns: the body never runs.
# ``async def`` first: a coroutine function also matches the plain overload, and mypy flags
# the overlap, which Python's types cannot express away (there is no "not a coroutine").
@overload
def agent(fn: _AsyncDef[P]) -> Callable[P, AsyncAnswer]: ...  # type: ignore[overload-overlap]
@overload
def agent(fn: Callable[P, object]) -> Callable[P, str]: ...
@overload
def agent(
    fn: None = None,
    *,
    stream: Literal[False] = False,
    config: LLMConfig | None = None,
    tools: list[Callable[..., Any]] | None = None,
    **litellm_kwargs: Any,
) -> AnswerDecorator: ...
@overload
def agent(
    fn: None = None,
    *,
    stream: Literal[True],
    config: LLMConfig | None = None,
    tools: list[Callable[..., Any]] | None = None,
    **litellm_kwargs: Any,
) -> StreamDecorator: ...
@overload
def agent(
    fn: None = None,
    *,
    stream: bool,
    config: LLMConfig | None = None,
    tools: list[Callable[..., Any]] | None = None,
    **litellm_kwargs: Any,
) -> AnyDecorator: ...


def agent(
    fn: Callable[P, object] | None = None,
    *,
    stream: bool = False,
    config: LLMConfig | None = None,
    tools: list[Callable[..., Any]] | None = None,
    **litellm_kwargs: Any,
) -> Callable[P, Answer] | Callable[[Callable[P, object]], Callable[P, Answer]]:
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

    def decorate(func: Callable[P, object]) -> Callable[P, Answer]:
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
            def streaming(*args: P.args, **kwargs: P.kwargs) -> AsyncTextStream:
                return call_llm_stream(prompt_for(args, kwargs), base)

            return streaming

        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def asking(*args: P.args, **kwargs: P.kwargs) -> str:
                return (await acall_llm(prompt_for(args, kwargs), base)).content

            return asking

        @functools.wraps(func)
        def answering(*args: P.args, **kwargs: P.kwargs) -> str:
            return call_llm(prompt_for(args, kwargs), base).content

        return answering

    return decorate(fn) if fn is not None else decorate


def _merge_config(config: LLMConfig | None, kwargs: dict[str, Any]) -> LLMConfig:
    """``config`` with named fields from kwargs applied; the rest go to litellm."""
    config = config or LLMConfig()
    fields = {k: v for k, v in kwargs.items() if k in _CONFIG_FIELDS}
    extra = {**config.extra, **{k: v for k, v in kwargs.items() if k not in _CONFIG_FIELDS}}
    return config.replace(**fields, extra=extra)
