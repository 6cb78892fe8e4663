"""``LLMConfig``: everything that decides how one request is made.

A plain dataclass so scripts can build one by hand and the cache can key on
it; the magic and the CLI both build theirs in ``settings.build_config``, from
the declared settings and the command line's options. The API
key is the one field that must never leak: it is excluded from ``repr`` and
from the cache key, and masked wherever settings are shown. Every config
tells ``kagura_magic.secrets`` its credentials when it is made, so a message
that echoes one (a provider's error body) is masked wherever it is shown.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, fields, replace
from typing import Any

from kagura_magic import secrets
from kagura_magic.errors import ConfigurationError
from kagura_magic.secrets import is_secret_name as is_secret_name  # its long-standing home

MODEL_ENV_VAR = "KAGURA_MODEL"
REASONING_EFFORTS = ("low", "medium", "high")


def mask(value: object) -> str:
    """Show that a secret is set without showing any of it."""
    return "***" if value else "(not set)"


@dataclass(frozen=True)
class LLMConfig:
    """How to call the model.

    ``model`` is any litellm model string (``gpt-4o-mini``,
    ``anthropic/claude-3-5-sonnet-20240620``, ``openai/<name>`` with
    ``api_base``) or an offline ``demo/*`` model. When left ``None`` it comes
    from ``$KAGURA_MODEL`` at call time.
    """

    model: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    top_p: float | None = None
    api_base: str | None = None
    api_key: str | None = field(default=None, repr=False)
    system_prompt: str | None = None
    reasoning_effort: str | None = None  # low, medium or high: litellm's reasoning_effort
    extra: dict[str, Any] = field(default_factory=dict)
    timeout: float = 120.0
    max_retries: int = 2
    retry_backoff: float = 0.5
    enable_cache: bool = True
    cache_ttl: float = 3600.0

    def __post_init__(self) -> None:
        if self.temperature is not None and not 0 <= self.temperature <= 2:
            raise ConfigurationError(f"temperature must be between 0 and 2, not {self.temperature}.")
        if self.top_p is not None and not 0 < self.top_p <= 1:
            raise ConfigurationError(f"top_p must be in (0, 1], not {self.top_p}.")
        if self.max_tokens is not None and self.max_tokens <= 0:
            raise ConfigurationError(f"max_tokens must be positive, not {self.max_tokens}.")
        if self.max_retries < 0:
            raise ConfigurationError("max_retries cannot be negative.")
        if self.reasoning_effort is not None and self.reasoning_effort not in REASONING_EFFORTS:
            levels = ", ".join(REASONING_EFFORTS)
            effort = self.reasoning_effort
            raise ConfigurationError(f"reasoning_effort must be one of {levels}, not {effort!r}.")
        secrets.remember(secrets.secrets_of(self.api_key, self.extra, self.api_base))

    def __repr__(self) -> str:
        shown = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "api_key":
                if value:
                    shown.append("api_key='***'")
                continue
            if f.name == "extra":
                value = masked_params(value)
            shown.append(f"{f.name}={value!r}")
        # The api_base's user, password and ?key=, and any known key quoted in a field.
        return secrets.mask(f"LLMConfig({', '.join(shown)})")

    def replace(self, **changes: Any) -> LLMConfig:
        """A copy with some fields changed (``None`` values are ignored)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def resolved_model(self) -> str:
        """The model to call, or a clear error saying how to choose one."""
        model = self.model or os.environ.get(MODEL_ENV_VAR, "").strip() or None
        if not model:
            raise ConfigurationError(
                "No model chosen.",
                f"Pass -m/--model (try -m demo/showcase, offline), set ${MODEL_ENV_VAR}, "
                "or %config AgentMagics.model = '...'.",
            )
        return model

    def cache_key(self, messages: list[dict[str, Any]]) -> str:
        """Everything that changes the answer, and nothing secret."""
        answer_shaping = {
            "model": self.resolved_model(),
            "messages": messages,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "top_p": self.top_p,
            "api_base": self.api_base,
            "extra": {k: v for k, v in self.extra.items() if not is_secret_name(k)},
        }
        return json.dumps(answer_shaping, sort_keys=True, default=repr)


def masked_params(params: dict[str, Any]) -> dict[str, Any]:
    """A copy of litellm params fit to print: credentials replaced by ``***``."""
    return {k: (mask(v) if is_secret_name(k) else v) for k, v in params.items()}


def parse_param_value(raw: str) -> Any:
    """``--param`` values: JSON when it parses (``0``, ``true``, ``[1,2]``), else the text."""
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def parse_params(items: list[str] | None) -> dict[str, Any]:
    """``["KEY=VALUE", ...]`` from ``--param`` into litellm kwargs."""
    params: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise ConfigurationError(
                f"--param expects KEY=VALUE, got {item!r}.",
                "For example: --param tokens_per_second=0",
            )
        params[key] = parse_param_value(value.strip())
    return params
