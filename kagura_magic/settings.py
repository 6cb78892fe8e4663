"""Defaults that persist across notebooks: a user-level TOML file.

``$KAGURA_CONFIG``, else ``$XDG_CONFIG_HOME/kagura_magic/config.toml``, else
``~/.config/kagura_magic/config.toml``::

    model = "gpt-4o-mini"
    format = "markdown"
    temperature = 0.2
    [params]            # any litellm parameters
    seed = 7

Precedence, lowest first: built-in defaults, this file, IPython config
(profile or ``c.AgentMagics.*``), ``%config AgentMagics.*`` in the session,
then the cell's own options. ``%agent config`` shows each effective value
and where it came from.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# File keys and the AgentMagics trait each sets.
KEYS = {
    "model": "model",
    "system": "system",
    "temperature": "temperature",
    "max_tokens": "max_tokens",
    "api_base": "api_base",
    "params": "params",
    "timeout": "timeout",
    "history": "history",
    "template": "template",
    "format": "default_format",
    "default_format": "default_format",
    "warm_up": "warm_up",
}


def config_path() -> Path:
    explicit = os.environ.get("KAGURA_CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "kagura_magic" / "config.toml"


@dataclass
class UserSettings:
    path: Path
    values: dict[str, Any] = field(default_factory=dict)  # trait name -> value
    problems: list[str] = field(default_factory=list)


def load_user_settings(path: Path | None = None) -> UserSettings:
    """Read the file if it exists; problems are collected, never raised.

    A bad file must not break loading the extension: it is reported and ignored.
    """
    path = path or config_path()
    settings = UserSettings(path)
    if not path.is_file():
        return settings
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on 3.10 only
        import tomli as tomllib
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        settings.problems.append(f"{path}: not read ({error}); using built-in defaults.")
        return settings
    for key, value in data.items():
        trait = KEYS.get(key)
        if trait is None:
            settings.problems.append(
                f"{path}: unknown setting {key!r} ignored (known: {', '.join(sorted(KEYS))})."
            )
            continue
        settings.values[trait] = value
    return settings
