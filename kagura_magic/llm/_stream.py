"""The answer as it is written: one stream object, read with ``async for`` or with ``for``.

``call_llm_stream`` returns an ``AsyncTextStream``. The async protocol is the
stream itself: it opens the request (retrying only until the first text, see
``_retry``), yields text pieces as the provider sends them, and closes the
HTTP response when it ends, fails, is cancelled or ``aclose()``d. The sync
protocol is a thin adapter over it: ``for piece in stream`` reads the same
async stream on the I/O loop (``_loop.BlockingReader``), one piece per step,
and Ctrl-C while waiting cancels the read, which closes the response at once
even while the provider is silent. So both flavours share one request, one
error mapping and one accounting, and cannot drift.

litellm's first-request costs stay off the loop. A cancel (Ctrl-C, Stop)
runs on the loop that reads the stream, and the ``KeyboardInterrupt`` that
starts it needs the main thread to get the GIL: anything long on the loop,
or anything that holds the GIL, holds a Ctrl-C back while the connection
stays open. A CLI's one request met three (issue 20). Measured here, with
Ctrl-C in the half second after the response headers, 46 of 50 closes took
100 ms or more (median 0.32 s, at most 0.60 s), and moving the tokenizer
alone still left 38 of 50:

* litellm's import, 2-4 s, on the loop before anything was sent;
* inside ``acompletion``, once the headers are in, loading the tokenizer it
  prices the prompt with (tiktoken's table, 0.3-0.7 s);
* a full cycle collection, 250-320 ms with the GIL held, which the ~160 MB
  the import built leaves due and which litellm's lazily built pydantic
  models set off right after the headers: no thread moves meanwhile, not
  even the main thread's signal handler.

``_prepare`` does the first two on a worker thread before the request is
sent (the same work in the same order, so the first token comes no later),
then ``gc.freeze()``s what the import built: it lives as long as the process,
and collections stop walking it (about 10 ms each after). What litellm
still does on the loop after the headers (tens of milliseconds) a Ctrl-C
no longer waits for: ``interrupt()`` cuts the connection from the calling
thread (``_loop.Connections``). A Ctrl-C now closes the connection within a
few milliseconds (``tests/stress/test_cli_interrupt.py``: 100 trials, at most
12 ms here; it holds them under 100 ms),
and the CLI exits about 0.15 s after its answer or Ctrl-C instead of
1.6-2 s: the interpreter's final collections walked the same objects. Freezing happens
only in the call that imported litellm, the one moment that graph is new.
The worker is an executor thread, which the interpreter joins at exit; a
daemon thread would be frozen mid-import, the exit hang ``_loop`` describes.

Why one name for both: in ``call_llm``/``acall_llm`` the ``a`` marks what
you *await*. A stream is not awaited but iterated, and ``for`` or
``async for`` already says which flavour you want, so one name serves both.
``call_llm_stream_sync`` stays for one release as a deprecated alias, and
``TextStream`` is another name for ``AsyncTextStream`` (the same class).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import warnings
import weakref
from collections.abc import AsyncGenerator, Iterator
from typing import Any

from kagura_magic.config import LLMConfig
from kagura_magic.llm import _backend as backend
from kagura_magic.llm._loop import BlockingReader, Connections
from kagura_magic.llm._request import Request
from kagura_magic.llm._retry import with_retries
from kagura_magic.llm._types import Message, PromptOrMessages, StreamEvent, StreamStats, ToolCallEvent


class AsyncTextStream:
    """Text pieces of one answer: ``async for`` / ``aclose()``, or ``for`` / ``close()``.

    ``stats`` holds timings, tokens and cost; ``text`` the text so far. Both
    protocols are context managers; leaving one early closes the response.
    """

    def __init__(self, prompt_or_messages: PromptOrMessages, config: LLMConfig | None = None) -> None:
        self._request = Request(prompt_or_messages, config)
        self._response = _Response()
        self._pieces: AsyncGenerator[str, None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None  # where the async protocol runs
        self._reader: BlockingReader[str] | None = None

    @property
    def config(self) -> LLMConfig:
        return self._request.config

    @property
    def model(self) -> str:
        return self._request.model

    @property
    def messages(self) -> list[Message]:
        return self._request.messages

    @property
    def stats(self) -> StreamStats:
        return self._request.stats

    @property
    def text(self) -> str:
        """Everything received so far: the partial answer if it stopped early."""
        return self._request.text

    @property
    def reasoning(self) -> str:
        """What the model thought so far (``reasoning_content``, thinking blocks, ``<think>``):
        never part of ``text``."""
        return self._request.reasoning

    @property
    def tool_calls(self) -> list[ToolCallEvent]:
        """The tool calls so far, each with its name and whole argument text."""
        return self._request.tool_calls

    def _generator(self) -> AsyncGenerator[str, None]:
        if self._pieces is None:
            self._pieces = _read(self._request, self._response)
        return self._pieces

    async def events(self) -> AsyncGenerator[StreamEvent, None]:
        """Everything the model sends, typed, in arrival order: ``ThinkingEvent``,
        ``TextEvent``, ``ToolCallEvent`` (its arguments as they grow).

        The same read as ``async for piece in stream``, which yields only the
        text: use one or the other on a stream.
        """
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        async for _ in self._generator():
            for event in self._request.take_events():
                yield event
        for event in self._request.take_events():
            yield event

    # -- async for ---------------------------------------------------------
    def __aiter__(self) -> AsyncTextStream:
        return self

    async def __anext__(self) -> str:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        while True:  # a chunk of only thinking or a tool call has no text
            piece = await self._generator().__anext__()
            self._request.take_events()  # read as text: the events are not wanted
            if piece:
                return piece

    async def __aenter__(self) -> AsyncTextStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._pieces is not None:
            await self._pieces.aclose()
        await self._response.close()

    # -- for: the thin adapter ---------------------------------------------
    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        if self._reader is None:
            # The connections, not the stream: a dropped stream's finalizer still reaches them.
            self._reader = BlockingReader(self._generator(), on_stop=self._response.connections.cut)
            # A stream dropped half-read still closes its connection.
            weakref.finalize(self, self._reader.cancel).atexit = False
        while True:  # a chunk of only thinking or a tool call has no text
            piece = self._reader.next()
            self._request.take_events()
            if piece:
                return piece

    def __enter__(self) -> AsyncTextStream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def interrupt(self) -> None:
        """Cut the connection now, from any thread, even while the loop is busy (what Ctrl-C does).

        The read then ends as its reader stops it, or with a connection error;
        ``close()`` and cancelling a read still say how it ended.
        """
        self._response.connections.cut()

    def close(self) -> None:
        """Stop a ``for`` read and close the response (an ``async for`` one: ``await aclose()``)."""
        if self._reader is not None:
            self._reader.close()
        elif self._loop is not None and self._loop.is_running():
            asyncio.run_coroutine_threadsafe(self.aclose(), self._loop)


TextStream = AsyncTextStream
"""The old name of the sync stream: the same class, which ``for`` reads too."""


class _Response:
    """The litellm stream wrapper of the current attempt; closing it closes the HTTP response."""

    def __init__(self) -> None:
        self.wrapper: Any = None
        self.connections = Connections()  # every attempt's, so that Ctrl-C can cut them at once

    async def close(self) -> None:
        wrapper, self.wrapper = self.wrapper, None
        if wrapper is not None and hasattr(wrapper, "aclose"):
            with contextlib.suppress(Exception):  # already closed or broken: nothing to release
                await wrapper.aclose()


async def _read(request: Request, response: _Response) -> AsyncGenerator[str, None]:
    """The pieces of one answer; a module function, so it holds the request but not its stream."""
    try:
        # Off the loop (see the module docstring); the clock started with the stream, so it counts.
        kwargs = await asyncio.to_thread(_prepare, request)

        def counted(number: int) -> None:
            request.stats.attempts = number

        try:
            first = await with_retries(
                lambda: _open(request, response, kwargs),
                max_retries=request.config.max_retries,
                backoff=request.config.retry_backoff,
                on_attempt=counted,
                after_failure=response.close,
            )
            if first is not None:
                yield first
                async for chunk in response.wrapper:
                    piece = request.take(chunk)
                    if piece or request.has_events:
                        yield piece  # "" for a chunk of only thinking or a tool call
        except Exception as exc:
            raise request.error(exc) from None
        if leftover := request.leftover():
            yield leftover
        request.finish(response.wrapper)
    finally:
        response.connections.release()  # a finished answer's connection may be kept alive for the next
        await response.close()
        request.stop_clock()


def _prepare(request: Request) -> dict[str, Any]:
    """The request's arguments, litellm imported and the model's tokenizer loaded: blocking work.

    litellm picks the tokenizer from the model name and keeps it, so counting a
    word loads what its cost calculation would otherwise load on the loop. When
    this call imported litellm, what the import built is frozen out of the
    cycle collector (see the module docstring).
    """
    importing = not backend.litellm_ready()
    kwargs = request.stream_kwargs()
    backend.count_text_tokens(request.model, "warm")
    if importing:
        gc.freeze()
    return kwargs


async def _open(request: Request, response: _Response, kwargs: dict[str, Any]) -> str | None:
    """Send the request and read up to the first thing to show: text, thinking or a tool call
    (None: it ended without any). Retries stop there: what was shown is not sent again."""
    with response.connections.opener():  # the connection is opened in here: Ctrl-C can cut it
        response.wrapper = await backend.acompletion(**kwargs)
    async for chunk in response.wrapper:
        piece = request.take(chunk)
        if piece or request.has_events:
            return piece
    return None


def call_llm_stream(prompt_or_messages: PromptOrMessages, config: LLMConfig | None = None) -> AsyncTextStream:
    """Stream an answer as text pieces, as the provider sends them: ``async for`` or ``for``.

    ``stream.stats`` holds timings, tokens and cost; ``stream.text`` the text
    so far. Errors are ``AgentError``; one raised mid-stream carries the text
    received in ``partial_text``. Streams are never cached.
    """
    return AsyncTextStream(prompt_or_messages, config)


def call_llm_stream_sync(
    prompt_or_messages: PromptOrMessages, config: LLMConfig | None = None
) -> AsyncTextStream:
    """Deprecated: ``call_llm_stream`` returns the same stream, and ``for`` reads it."""
    warnings.warn(
        "call_llm_stream_sync() is deprecated and will be removed in the next release: "
        "call_llm_stream() returns the same stream, read it with `for piece in call_llm_stream(...)`.",
        DeprecationWarning,
        stacklevel=2,
    )
    return AsyncTextStream(prompt_or_messages, config)
