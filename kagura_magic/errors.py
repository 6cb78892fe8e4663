"""One exception family for everything a user can do something about.

Views (the notebook, the terminal) show ``str(error)``: one or two lines, what
went wrong and what to do. They never show a traceback for these. An error
raised after text was streamed carries that text in ``partial_text`` so the
view can keep what the user already read.

Every message and hint is masked when the error is made (``kagura_magic.secrets``):
whoever built it, from whatever a provider or an exception said, no known key
can be shown.

This module imports nothing heavy so that views can catch these errors without
importing litellm.
"""

from __future__ import annotations

from kagura_magic.secrets import mask


class AgentError(Exception):
    """Base of every error kagura-magic reports to a user.

    ``message`` says what went wrong, ``hint`` what to do about it. Both are
    plain sentences; neither ever contains an API key (see the module docstring).
    """

    default_hint = ""

    def __init__(
        self,
        message: str,
        hint: str | None = None,
        *,
        partial_text: str = "",
        model: str | None = None,
    ) -> None:
        self.message = mask(message.strip())
        self.hint = mask((hint if hint is not None else self.default_hint).strip())
        self.partial_text = partial_text
        self.model = model
        super().__init__(self.user_message)

    @property
    def user_message(self) -> str:
        """The one or two lines a view prints."""
        return f"{self.message}\n{self.hint}" if self.hint else self.message

    def __str__(self) -> str:
        return self.user_message


class ConfigurationError(AgentError):
    """Our own settings are incomplete or invalid (no model chosen, a bad value)."""


class TemplateError(AgentError):
    """A ``{{ }}`` prompt template could not be rendered."""


class ImageError(AgentError):
    """A picture for the prompt cannot be sent: unreadable, too large without Pillow, or the model
    takes no images."""


class MissingAPIKeyError(AgentError):
    """The provider needs a key that is not in the environment."""

    def __init__(self, model: str, env_vars: list[str]) -> None:
        names = " or ".join(env_vars) if env_vars else "the provider's API key"
        super().__init__(
            f"No API key for {model}: {names} is not set.",
            f"Set {env_vars[0] if env_vars else 'it'} in the environment (or pass api_key=...), "
            "or try the offline demo with -m demo/showcase.",
            model=model,
        )
        self.env_vars = env_vars


class AuthenticationError(AgentError):
    default_hint = "Check that the API key is valid and belongs to this provider."


class PermissionDeniedError(AuthenticationError):
    """The key was accepted but may not do this (HTTP 403): retrying will not help."""

    default_hint = (
        "Check the key's permissions (its project or organisation may lack access to this model), "
        "and that the provider serves your region."
    )


class UnknownModelError(AgentError):
    default_hint = "Check the model name (`%agent models` lists known ones), e.g. -m demo/showcase."


class RateLimitError(AgentError):
    default_hint = "Wait a moment and run the cell again, or use a model with a higher limit."


class QuotaExceededError(RateLimitError):
    """The account has no credit or quota left (a 429 ``insufficient_quota``): waiting will not help."""

    default_hint = (
        "Check the plan and billing details on the provider's dashboard (add credit or raise the quota); "
        "waiting will not help."
    )


class ContextWindowError(AgentError):
    default_hint = "Shorten the prompt, reset the conversation (`%agent reset`), or use --no-history."


class LLMTimeoutError(AgentError):
    default_hint = "The provider did not answer in time; try again or raise the timeout."


class LLMConnectionError(AgentError):
    default_hint = "Check the network and --api-base, then run the cell again."


class IncompleteStreamError(LLMConnectionError):
    """The connection ended before the provider said the answer was complete."""

    default_hint = "The text above is partial; run the cell again for a full answer."


class ProviderError(AgentError):
    default_hint = "The provider reported an error; try again, or check its status page."


class StreamingNotSupportedError(AgentError):
    """A combination of options that cannot stream (e.g. tools)."""


class FormatError(AgentError):
    """A complete answer is not in the ``-f`` format asked for (e.g. not valid JSON)."""
