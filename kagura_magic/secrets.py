"""The secrets this process knows, and the one function that hides them in any text.

A key reaches a message by many roads: a provider's error body that echoes it
(``Incorrect API key provided: gsk_…``), an exception's ``str()``, a URL with
``user:password@`` or ``?key=``, a repr. Each place that wrote a message used
to hide only the key it had in hand, and only if it looked like ``sk-…``. So
the list of what is secret lives here, once:

* every credential a config was given (``api_key``, a ``--param`` whose name
  says credential, the user, password and key-like query values of
  ``api_base``): ``LLMConfig`` remembers them when it is made;
* every environment variable whose name says credential. litellm reads a
  provider's key from the environment under names that all follow one
  convention (``<PROVIDER>_API_KEY``, ``…_TOKEN``, ``…_SECRET_ACCESS_KEY``,
  ``…_CREDENTIALS``, ``SNOWFLAKE_JWT``; its other names are bases, regions and
  ids), and it loads a ``.env`` file into ``os.environ``. Any provider can
  sit behind a proxy or a fallback, so all of them are hidden, not only the
  current model's; the environment is read when a message is masked, so a
  key set later is covered too;
* the secrets inside any URL among those values (``OPENAI_API_BASE``,
  ``DATABASE_URL``).

``AgentError`` masks its lines with ``mask``, so every message any layer
builds is covered; reprs, the CLI's stderr and litellm's log records go
through it too. Values shorter than ``MIN_SECRET_LENGTH`` are never masked:
hiding every ``a`` or ``true`` would garble messages and protect nothing.
"""

from __future__ import annotations

import base64
import os
import re
import threading
from collections.abc import Iterable, Mapping
from urllib.parse import quote, unquote, unquote_plus, urlsplit

__all__ = ["MASK", "MIN_SECRET_LENGTH", "is_secret_name", "known", "mask", "remember", "secrets_of"]

MASK = "***"
MIN_SECRET_LENGTH = 8

# Words that make a name a credential's (``api_key``, ``GROQ_API_KEY``, ``azure_ad_token``,
# ``aws_secret_access_key``, ``vertex_credentials``, ``?sig=`` of an Azure SAS URL). Whole
# words only, so ``max_tokens`` and ``TOKENIZERS_PARALLELISM`` stay visible.
_SECRET_WORDS = {"token", "secret", "password", "passwd", "pwd", "credential", "credentials", "jwt", "sig"}
_WORD_SPLIT = re.compile(r"[^a-z0-9]+")
# Key shapes hidden even when the value is not known (a key the provider made up, a proxy's).
_KEYLIKE = re.compile(r"\b(sk|pk|rk|key)-[A-Za-z0-9_\-*]{6,}")

_remembered: dict[str, None] = {}  # insertion-ordered set
_lock = threading.Lock()


def is_secret_name(name: str) -> bool:
    """True when a setting, parameter or environment variable called ``name`` holds a credential."""
    for word in _WORD_SPLIT.split(name.lower()):
        if word in _SECRET_WORDS or word.endswith("key") or word.startswith("auth") or word.endswith("auth"):
            return True
    return False


def secrets_of(
    api_key: object = None, params: Mapping[str, object] | None = None, api_base: object = None
) -> list[str]:
    """The secret values in one config's fields: its key, credential params, its URL's secrets."""
    values = [api_key] + [value for name, value in (params or {}).items() if is_secret_name(name)]
    found = [str(value) for value in values if isinstance(value, str | bytes | int) and value]
    for value in [api_base, *(params or {}).values()]:
        if isinstance(value, str) and "://" in value:
            found += _url_secrets(value)
    return _long_enough(found)


def remember(values: Iterable[str]) -> None:
    """Add ``values`` to the secrets of this process (``LLMConfig`` does, for every config)."""
    with _lock:
        for value in _long_enough(values):
            _remembered[value] = None


def known() -> list[str]:
    """Every secret the process knows now: remembered ones and the environment's."""
    with _lock:
        values = list(_remembered)
    for name, value in _environment():
        if is_secret_name(name):
            values.append(value)
        if "://" in value:
            values += _url_secrets(value)
    return _long_enough(values)


def _environment() -> list[tuple[str, str]]:
    """``os.environ``'s items, even while another thread sets one (litellm loads ``.env`` on import)."""
    for _ in range(5):
        try:
            return list(os.environ.items())
        except RuntimeError:  # changed size during iteration: read it again
            continue
    return list(os.environ.copy().items())


def mask(text: str, secrets: Iterable[str] | None = None) -> str:
    """``text`` with every secret replaced by ``***`` (``secrets``, else every ``known`` one).

    Longest first, so a key that contains another is hidden whole; a key is
    also found percent-encoded, as it appears in a URL.
    """
    values = _long_enough(known() if secrets is None else secrets)
    for value in sorted(set(values) | set(_variants(values)), key=len, reverse=True):
        text = text.replace(value, MASK)
    return _KEYLIKE.sub(MASK, text)


def _variants(values: Iterable[str]) -> list[str]:
    return _long_enough(quote(value, safe="") for value in values)


def _url_secrets(url: str) -> list[str]:
    """The user, password and key-like query values in ``url`` (raw and decoded), and the
    ``Basic`` header made of the user and password, which a server may echo."""
    try:
        parts = urlsplit(url.strip())
        user, password = parts.username, parts.password
    except ValueError:
        return []
    found = [value for value in (user, password) if value]
    found += [unquote(value) for value in found]
    if user is not None and password is not None:
        pair = f"{unquote(user)}:{unquote(password)}".encode()
        found.append(base64.b64encode(pair).decode())
    for item in parts.query.split("&"):
        name, _, value = item.partition("=")
        if value and is_secret_name(unquote_plus(name)):
            found += [value, unquote_plus(value)]
    return found


def _long_enough(values: Iterable[object]) -> list[str]:
    texts = (value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value) for value in values)
    return [text for text in texts if len(text) >= MIN_SECRET_LENGTH]
