"""One request: its messages and litellm arguments, the checks made before it, its accounting.

Streams and complete answers build their request here, so both make the
same offline checks (a known model, a key that is set) before anything goes
on the wire, and a stream's chunks are counted one way: text whole to the
character, first-token time, usage, cost, and whether the provider ever said
the answer was done.

Text enters here too, and leaves here: ``whole_characters`` is the one
function that makes a string sendable (a prompt's lone surrogate, half an
emoji a proxy cut off) by turning what UTF-8 cannot encode into U+FFFD.
"""

from __future__ import annotations

import re
import time
import warnings
from typing import Any

from kagura_magic import secrets
from kagura_magic.config import LLMConfig
from kagura_magic.errors import AgentError, ConfigurationError, MissingAPIKeyError, UnknownModelError
from kagura_magic.llm import _backend as backend
from kagura_magic.llm._diagnose import classify, ended_without_finish, unfinished_error
from kagura_magic.llm._thinking import Split, ThinkSplitter
from kagura_magic.llm._types import (
    Message,
    PromptOrMessages,
    StreamEvent,
    StreamStats,
    TextEvent,
    ThinkingEvent,
    ToolCallEvent,
)

# Providers that speak the OpenAI wire format and are often self-hosted
# (vLLM, llama.cpp, Ollama's /v1): with --api-base they may need no key at all.
_OPENAI_COMPATIBLE = {
    "openai",
    "openai_like",
    "hosted_vllm",
    "custom_openai",
    "text-completion-openai",
}
_PLACEHOLDER_KEY = "sk-no-key-required"
_PASSED_FIELDS = ("temperature", "max_tokens", "top_p", "api_base", "api_key", "reasoning_effort")

REPLACEMENT_CHARACTER = "\ufffd"
_SURROGATE = re.compile("[\ud800-\udfff]")
UNENCODABLE_NOTE = (
    "The prompt held characters that cannot be sent (lone UTF-16 surrogates); "
    "each was sent as U+FFFD (\ufffd). Check the text they came from."
)


def build_messages(prompt_or_messages: PromptOrMessages, system_prompt: str | None = None) -> list[Message]:
    """A chat message list from a prompt string or an existing message list.

    Text that cannot be encoded becomes U+FFFD here, with one ``UnicodeWarning``
    (``UNENCODABLE_NOTE``): sent as it is, it fails inside the HTTP client, and
    that failure looks like the provider's and is retried.
    """
    if isinstance(prompt_or_messages, str):
        messages: list[Message] = [{"role": "user", "content": prompt_or_messages}]
    else:
        messages = [dict(m) for m in prompt_or_messages]
        if not all(isinstance(m, dict) and "role" in m for m in messages):
            raise TypeError("messages must be dicts with a 'role' and 'content'")
    if system_prompt and not any(m["role"] == "system" for m in messages):
        messages.insert(0, {"role": "system", "content": system_prompt})
    cleaned = [_sendable_message(m) for m in messages]
    if cleaned != messages:
        warnings.warn(UNENCODABLE_NOTE, UnicodeWarning, stacklevel=2)
    return cleaned


def _sendable_message(message: Message) -> Message:
    """``message`` with its text (a string, or the ``text`` of content parts) made sendable."""
    content = message.get("content")
    if isinstance(content, str):
        return {**message, "content": whole_characters(content)}
    if isinstance(content, list):
        parts = [
            {**part, "text": whole_characters(part["text"])}
            if isinstance(part, dict) and isinstance(part.get("text"), str)
            else part
            for part in content
        ]
        return {**message, "content": parts}
    return message


def preflight(config: LLMConfig) -> None:
    """The offline checks a request makes first (model known, key present), on their own."""
    Request("", config).kwargs()


class Request:
    """What one call needs from start to end, whether it streams or not."""

    def __init__(self, prompt_or_messages: PromptOrMessages, config: LLMConfig | None = None) -> None:
        self.config = config or LLMConfig()
        self.model = self.config.resolved_model()
        self.messages = build_messages(prompt_or_messages, self.config.system_prompt)
        self.stats = StreamStats(model=self.model)
        self.provider: str | None = None  # known after ``kwargs()``
        self._pieces: list[str] = []
        self._thoughts: list[str] = []
        self._inline = ThinkSplitter()  # <think>…</think> sent as content
        self._events: list[StreamEvent] = []  # since the last take_events()
        self._tools: dict[int, ToolCallEvent] = {}
        self._split_surrogate = ""  # the first half of a character whose second half is in the next chunk
        self._streamed = False  # a chunk with a role or content came: the server did stream

    @property
    def text(self) -> str:
        """Everything received so far: the partial answer if it stopped early."""
        return "".join(self._pieces)

    @property
    def reasoning(self) -> str:
        """The thinking text so far (never part of ``text``)."""
        return "".join(self._thoughts)

    @property
    def tool_calls(self) -> list[ToolCallEvent]:
        """Every tool call so far, as it stands, in index order."""
        return [self._tools[index] for index in sorted(self._tools)]

    @property
    def has_events(self) -> bool:
        """Whether chunks taken since the last ``take_events`` brought anything to show."""
        return bool(self._events)

    def take_events(self) -> list[StreamEvent]:
        """The events of the chunks taken since the last call, in arrival order."""
        events, self._events = self._events, []
        return events

    # -- before the call -------------------------------------------------
    def kwargs(self) -> dict[str, Any]:
        """litellm's arguments, after the checks that need no network."""
        provider = self.provider = self._provider()  # loads litellm first: demo imports from it
        from kagura_magic.providers import demo

        if provider == demo.PROVIDER and self.model.split("/", 1)[1] not in demo.DEMO_MODELS:
            known = ", ".join(f"demo/{m}" for m in demo.DEMO_MODELS)
            raise UnknownModelError(
                f"Unknown demo model {self.model!r}.",
                f"The demo models are {known}.",
                model=self.model,
            )
        kwargs: dict[str, Any] = {
            "model": self.model,
            "messages": self.messages,
            "timeout": self.config.timeout,
        }
        for name in _PASSED_FIELDS:
            value = getattr(self.config, name)
            if value is not None:
                kwargs[name] = value
        kwargs.update(self.config.extra)
        if "reasoning_effort" in kwargs and provider != demo.PROVIDER:
            self._check_reasoning(provider)
        if "api_key" not in kwargs and provider != demo.PROVIDER:
            self._check_key(provider, kwargs)
        if provider in _OPENAI_COMPATIBLE:
            # We retry ourselves, and only before the first token; the openai
            # SDK's own retries would hide 429s and double our waits.
            kwargs.setdefault("max_retries", 0)
        return kwargs

    def stream_kwargs(self) -> dict[str, Any]:
        """``kwargs()`` for a stream, with the usage chunk asked for, whatever the provider.

        litellm never refuses ``stream_options`` (it is not checked against a provider's
        parameters), sends it on only to providers that take it, and for the others (Anthropic,
        Bedrock, Gemini...) it is what makes litellm's stream wrapper hand on the usage that it
        reads from the provider's own events: without it, a Claude answer has no token counts.
        """
        kwargs = self.kwargs()
        kwargs["stream"] = True
        kwargs.setdefault("stream_options", {"include_usage": True})
        return kwargs

    def _provider(self) -> str:
        provider = backend.provider_of(self.model, self.config.api_base)
        if provider is None:
            close = backend.close_model_names(self.model)
            raise UnknownModelError(
                f"Unknown model {self.model!r}: litellm cannot tell which provider serves it."
                + (f" Did you mean {', '.join(close)}?" if close else ""),
                "Prefix the provider (openai/..., anthropic/..., ollama/...) or pick one from "
                "`%agent models`; -m demo/showcase works offline.",
                model=self.model,
            )
        return provider

    def _check_reasoning(self, provider: str) -> None:
        """Refuse ``reasoning_effort`` for a model litellm says cannot take it, before any request."""
        if backend.supports_param(self.model, provider, "reasoning_effort"):
            return
        raise ConfigurationError(
            f"{self.model} does not take --reasoning-effort (litellm lists no reasoning_effort for it).",
            "Drop the option, or pick a model that reasons: o3-mini, gpt-5, deepseek/deepseek-reasoner, "
            "a Claude 3.7 or later, or a local model behind --api-base.",
        )

    def _check_key(self, provider: str, kwargs: dict[str, Any]) -> None:
        missing = backend.missing_keys(self.model, self.config.api_base)
        if not missing:
            return  # none missing, or litellm cannot tell offline: the provider will answer
        if self.config.api_base and provider in _OPENAI_COMPATIBLE:
            kwargs["api_key"] = _PLACEHOLDER_KEY  # a self-hosted server usually wants none
            return
        raise MissingAPIKeyError(self.model, missing)

    # -- errors -----------------------------------------------------------
    def error(self, exc: BaseException) -> AgentError:
        """The ``AgentError`` to raise for ``exc``, carrying the text received so far."""
        if isinstance(exc, AgentError):
            exc.partial_text = exc.partial_text or self.text
            return exc
        if ended_without_finish(exc):
            return unfinished_error(self.model, self.text, self._streamed, self.reasoning)
        return classify(
            exc,
            model=self.model,
            api_base=self.config.api_base,
            timeout=self.config.timeout,
            secrets=self._secrets(),
            partial_text=self.text,
            partial_thinking=self.reasoning,
        )

    def _secrets(self) -> list[str]:
        config = self.config
        return [*secrets.secrets_of(config.api_key, config.extra, config.api_base), *secrets.known()]

    # -- during and after the stream -----------------------------------
    def take(self, chunk: Any) -> str:
        """Record one litellm chunk; return its answer text (thinking and tool calls go to events)."""
        usage = getattr(chunk, "usage", None)
        if usage:
            self.stats.prompt_tokens = getattr(usage, "prompt_tokens", None) or self.stats.prompt_tokens
            self.stats.completion_tokens = (
                getattr(usage, "completion_tokens", None) or self.stats.completion_tokens
            )
            details = getattr(usage, "completion_tokens_details", None)
            self.stats.reasoning_tokens = (
                getattr(details, "reasoning_tokens", None) or self.stats.reasoning_tokens
            )
        choices = getattr(chunk, "choices", None) or []
        if not choices:
            return ""
        delta = choices[0].delta
        content = getattr(delta, "content", None)
        self._streamed = self._streamed or content is not None or getattr(delta, "role", None) is not None
        self._think(_reasoning_of(delta))
        piece, self._split_surrogate = self._split_surrogate + (content or ""), ""
        if _ends_in_high_surrogate(piece):  # its other half comes with the next chunk
            piece, self._split_surrogate = piece[:-1], piece[-1]
        split = self._inline.feed(whole_characters(piece))
        self._think(split.thinking)
        self._answer(split.text)
        for call in getattr(delta, "tool_calls", None) or ():
            self._tool_call(call)
        return split.text

    def _think(self, thought: str) -> None:
        if not thought:
            return
        if self.stats.thinking_started is None:
            self.stats.thinking_started = time.monotonic()
        self._thoughts.append(thought)
        self._events.append(ThinkingEvent(thought))

    def _answer(self, piece: str) -> None:
        if not piece:
            return
        now = time.monotonic()
        if self.stats.first_token_at is None:
            self.stats.first_token_at = now
        if self.stats.thinking_started is not None and self.stats.thinking_ended is None:
            self.stats.thinking_ended = now
        self._pieces.append(piece)
        self._events.append(TextEvent(piece))

    def _tool_call(self, call: Any) -> None:
        """Grow the call at ``call.index``: its name and id arrive once, its arguments in pieces."""
        index = getattr(call, "index", None) or 0
        function = getattr(call, "function", None)
        known = self._tools.get(index, ToolCallEvent(index, "", ""))
        grown = ToolCallEvent(
            index,
            known.name or getattr(function, "name", None) or "",
            known.arguments + (getattr(function, "arguments", None) or ""),
            known.id or getattr(call, "id", None),
        )
        if grown != known:
            self._tools[index] = grown
            self._events.append(grown)

    def leftover(self) -> str:
        """What the end of the stream releases: text held back as maybe a ``<think>`` tag, and half
        a character (shown as U+FFFD, not dropped)."""
        half = REPLACEMENT_CHARACTER if self._split_surrogate else ""
        self._split_surrogate = ""
        first = self._inline.feed(half) if half else Split()
        last = self._inline.finish()
        self._think(first.thinking + last.thinking)
        text = first.text + last.text
        self._answer(text)
        return text

    def finish(self, wrapper: Any) -> None:
        """Close the books; a stream that never said it was done is an error.

        Older litellm ends a cut connection as if complete, and even adds a
        synthetic "stop"; only these attributes of its stream wrapper tell the
        truth (newer releases raise instead: see ``error``).
        """
        self.stats.finished_at = time.monotonic()
        finish = getattr(wrapper, "received_finish_reason", None) or getattr(
            wrapper, "intermittent_finish_reason", None
        )
        if finish is None:
            raise unfinished_error(self.model, self.text, self._streamed)
        self.stats.finish_reason = finish
        self._account()

    def stop_clock(self) -> None:
        """However the stream ended; a partial answer still reports what arrived."""
        if self.stats.finished_at is None:
            self.stats.finished_at = time.monotonic()
        if not self.stats.completion_tokens and self._pieces:
            self.stats.completion_tokens = len(self._pieces)  # providers send about a token a piece
            self.stats.tokens_estimated = True

    def _account(self) -> None:
        if not self.stats.completion_tokens and self._pieces:
            counted = backend.count_text_tokens(self.model, self.text)
            self.stats.completion_tokens = counted if counted is not None else len(self._pieces)
            self.stats.tokens_estimated = True
        self.stats.cost = backend.cost(self.model, self.stats.prompt_tokens, self.stats.completion_tokens)


def whole_characters(text: str) -> str:
    """``text`` with surrogate pairs joined and lone halves replaced by U+FFFD.

    Both ways across the wire: JSON escapes characters beyond U+FFFF as two
    ``\\uXXXX`` halves, a proxy that cuts strings by UTF-16 length can send
    them in different chunks, and a prompt can hold a lone half (``'x\\ud800y'``,
    or a file name decoded with ``surrogateescape``). A lone half cannot be
    encoded as UTF-8: sending, printing or saving it fails, losing the prompt
    or the answer.
    """
    if not _SURROGATE.search(text):
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def _reasoning_of(delta: Any) -> str:
    """The thinking text in a delta: ``reasoning_content`` (litellm's name for every provider's),
    else the text of Anthropic's thinking blocks."""
    text = getattr(delta, "reasoning_content", None)
    if isinstance(text, str) and text:
        return whole_characters(text)
    blocks = getattr(delta, "thinking_blocks", None) or ()
    parts = [block.get("thinking") for block in blocks if isinstance(block, dict)]
    return whole_characters("".join(part for part in parts if isinstance(part, str)))


def _ends_in_high_surrogate(piece: str) -> bool:
    return bool(piece) and "\ud800" <= piece[-1] <= "\udbff"
