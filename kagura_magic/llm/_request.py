"""One request: its messages and litellm arguments, the checks made before it, its accounting.

Streams and complete answers build their request here, so both make the
same offline checks (a known model, a key that is set) before anything goes
on the wire, and a stream's chunks are counted one way: text whole to the
character, first-token time, usage, cost, and whether the provider ever said
the answer was done.
"""

from __future__ import annotations

import re
import time
from typing import Any

from kagura_magic.config import LLMConfig, is_secret_name
from kagura_magic.errors import AgentError, MissingAPIKeyError, UnknownModelError
from kagura_magic.llm import _backend as backend
from kagura_magic.llm._diagnose import classify, ended_without_finish, unfinished_error
from kagura_magic.llm._types import Message, PromptOrMessages, StreamStats

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
_PASSED_FIELDS = ("temperature", "max_tokens", "top_p", "api_base", "api_key")

REPLACEMENT_CHARACTER = "\ufffd"
_SURROGATE = re.compile("[\ud800-\udfff]")


def build_messages(prompt_or_messages: PromptOrMessages, system_prompt: str | None = None) -> list[Message]:
    """A chat message list from a prompt string or an existing message list."""
    if isinstance(prompt_or_messages, str):
        messages: list[Message] = [{"role": "user", "content": prompt_or_messages}]
    else:
        messages = [dict(m) for m in prompt_or_messages]
        if not all(isinstance(m, dict) and "role" in m for m in messages):
            raise TypeError("messages must be dicts with a 'role' and 'content'")
    if system_prompt and not any(m["role"] == "system" for m in messages):
        messages.insert(0, {"role": "system", "content": system_prompt})
    return messages


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
        self._split_surrogate = ""  # the first half of a character whose second half is in the next chunk
        self._streamed = False  # a chunk with a role or content came: the server did stream

    @property
    def text(self) -> str:
        """Everything received so far: the partial answer if it stopped early."""
        return "".join(self._pieces)

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
        if "api_key" not in kwargs and provider != demo.PROVIDER:
            self._check_key(provider, kwargs)
        if provider in _OPENAI_COMPATIBLE:
            # We retry ourselves, and only before the first token; the openai
            # SDK's own retries would hide 429s and double our waits.
            kwargs.setdefault("max_retries", 0)
        return kwargs

    def stream_kwargs(self) -> dict[str, Any]:
        """``kwargs()`` for a stream, with the usage chunk asked for where the provider has one."""
        kwargs = self.kwargs()
        kwargs["stream"] = True
        provider = self.provider or ""
        if "stream_options" not in kwargs and backend.supports_param(self.model, provider, "stream_options"):
            kwargs["stream_options"] = {"include_usage": True}
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
            return unfinished_error(self.model, self.text, self._streamed)
        return classify(
            exc,
            model=self.model,
            api_base=self.config.api_base,
            timeout=self.config.timeout,
            secrets=self._secrets(),
            partial_text=self.text,
        )

    def _secrets(self) -> list[str]:
        values = [self.config.api_key or ""]
        values += [str(v) for k, v in self.config.extra.items() if is_secret_name(k)]
        return [v for v in values if len(v) >= 6]

    # -- during and after the stream -----------------------------------
    def take(self, chunk: Any) -> str:
        """Record one litellm chunk; return its text."""
        usage = getattr(chunk, "usage", None)
        if usage:
            self.stats.prompt_tokens = getattr(usage, "prompt_tokens", None) or self.stats.prompt_tokens
            self.stats.completion_tokens = (
                getattr(usage, "completion_tokens", None) or self.stats.completion_tokens
            )
        choices = getattr(chunk, "choices", None) or []
        if not choices:
            return ""
        delta = choices[0].delta
        content = getattr(delta, "content", None)
        self._streamed = self._streamed or content is not None or getattr(delta, "role", None) is not None
        piece, self._split_surrogate = self._split_surrogate + (content or ""), ""
        if _ends_in_high_surrogate(piece):  # its other half comes with the next chunk
            piece, self._split_surrogate = piece[:-1], piece[-1]
        piece = _whole_characters(piece)
        if piece:
            if self.stats.first_token_at is None:
                self.stats.first_token_at = time.monotonic()
            self._pieces.append(piece)
        return piece

    def leftover(self) -> str:
        """Half a character held back at the end of the stream: shown as U+FFFD, not dropped."""
        if not self._split_surrogate:
            return ""
        self._split_surrogate = ""
        self._pieces.append(REPLACEMENT_CHARACTER)
        return REPLACEMENT_CHARACTER

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


def _whole_characters(piece: str) -> str:
    """Join surrogate pairs and replace lone halves with U+FFFD.

    JSON escapes characters beyond U+FFFF as two ``\\uXXXX`` halves, and a proxy
    that cuts strings by UTF-16 length can send them in different chunks. A
    lone half cannot be encoded as UTF-8: printing or sending it to the
    notebook would fail, losing the answer.
    """
    if not _SURROGATE.search(piece):
        return piece
    return piece.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def _ends_in_high_surrogate(piece: str) -> bool:
    return bool(piece) and "\ud800" <= piece[-1] <= "\udbff"
