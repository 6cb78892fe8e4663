"""Every setting, declared once, and every surface derived from the declaration.

A setting is a row of ``SETTINGS``: its name, type, default and help, and
where it appears. From those rows come the ``%config AgentMagics.<name>``
traits (``traits``), the ``%%agent`` options (``argparse_options("cell")``),
the keys of the user's config file (``FILE_KEYS``), the ``kagura`` CLI's
options (``argparse_options("cli")``), ``%agent config`` (``report``), the
README's table (``readme_table``) and the one ``LLMConfig`` both the magic
and the CLI send (``build_config``). Adding a setting is adding one row; a
test fails when a surface disagrees with the rows.

The config file is ``$KAGURA_CONFIG``, else
``$XDG_CONFIG_HOME/kagura_magic/config.toml``, else
``~/.config/kagura_magic/config.toml``, for example::

    model = "gpt-4o-mini"
    format = "markdown"
    temperature = 0.2
    [params]            # any litellm parameters
    seed = 7

Precedence, lowest first: built-in defaults, this file, IPython config
(profile or ``c.AgentMagics.*``), ``%config AgentMagics.*`` in the session,
then the cell's own options (for ``kagura``: defaults, this file, its
options). ``%agent config`` shows each effective value and where it came from.
"""

from __future__ import annotations

import argparse
import difflib
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from kagura_magic import secrets
from kagura_magic.config import (
    MODEL_ENV_VAR,
    REASONING_EFFORTS,
    LLMConfig,
    mask,
    masked_params,
    parse_params,
)
from kagura_magic.formats import FORMATS

if TYPE_CHECKING:
    from traitlets import TraitType

Surface = Literal["cell", "cli"]

VIEWS = ("auto", "widget", "html", "terminal")


@dataclass(frozen=True)
class Setting:
    """One setting and every place it appears.

    ``help`` says what the value does (``%config`` help, the config file, the
    README), with code in backticks that plain-text surfaces drop;
    ``option_help`` is the per-cell option's own wording where it differs (a
    ``--no-history`` flag does the opposite of ``history = True``).
    """

    name: str
    kind: type
    default: Any
    help: str
    flags: tuple[str, ...] = ()  # the %%agent option's spellings; () = no per-cell option
    metavar: str | None = None
    option_help: str | None = None
    choices: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    trait: bool = True  # %config AgentMagics.<name>
    aliases: tuple[str, ...] = ()  # more config-file keys for it, besides its name
    cli: bool = False  # kagura takes the same option
    llm: str | None = None  # the LLMConfig field it sets
    env: str | None = None  # the environment variable used when it is unset

    @property
    def dest(self) -> str:
        """The attribute argparse stores the option under (from its long spelling, as argparse does)."""
        long = next(flag for flag in self.flags if flag.startswith("--"))
        return long[2:].replace("-", "_")

    @property
    def file_keys(self) -> tuple[str, ...]:
        return (self.name, *self.aliases) if self.trait else ()

    @property
    def flag_value(self) -> bool:
        """What a bool setting's flag means: the opposite of the built-in default (``--no-history``)."""
        return not self.default

    def usage(self) -> str:
        """``[-m MODEL]``: the option as a usage line shows it."""
        flag = self.flags[0]
        return f"[{flag} {self.metavar}]" if self.metavar else f"[{flag}]"


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "model",
        str,
        None,
        "any litellm model: `gpt-4o-mini`, `anthropic/claude-3-5-sonnet-20240620`, "
        "`openai/NAME` with `--api-base`, or `demo/showcase` (offline)",
        flags=("-m", "--model"),
        metavar="MODEL",
        cli=True,
        llm="model",
        env=MODEL_ENV_VAR,
    ),
    Setting(
        "system",
        str,
        None,
        "system prompt",
        flags=("--system",),
        metavar="TEXT",
        cli=True,
        llm="system_prompt",
    ),
    Setting(
        "temperature",
        float,
        None,
        "sampling temperature, 0-2",
        flags=("--temperature",),
        metavar="T",
        minimum=0,
        maximum=2,
        cli=True,
        llm="temperature",
    ),
    Setting(
        "max_tokens",
        int,
        None,
        "longest answer, in tokens",
        flags=("--max-tokens",),
        metavar="N",
        minimum=1,
        cli=True,
        llm="max_tokens",
    ),
    Setting(
        "reasoning_effort",
        str,
        None,
        "how hard a reasoning model thinks before it answers (refused for a model that cannot)",
        flags=("--reasoning-effort",),
        metavar="LEVEL",
        option_help="`low`, `medium` or `high`: how hard a reasoning model thinks (`reasoning_effort`)",
        choices=REASONING_EFFORTS,
        cli=True,
        llm="reasoning_effort",
    ),
    Setting(
        "api_base",
        str,
        None,
        "base URL of a self-hosted or OpenAI-compatible server (no key needed for a local one)",
        flags=("--api-base",),
        metavar="URL",
        cli=True,
        llm="api_base",
    ),
    Setting(
        "params",
        dict,
        {},
        "litellm parameters sent with every request (a table in the config file)",
        flags=("--param",),
        metavar="KEY=VALUE",
        option_help="any other litellm parameter, repeatable; values are read as JSON when they parse "
        "(`--param tokens_per_second=0`)",
        cli=True,
        llm="extra",
    ),
    Setting(
        "timeout",
        float,
        LLMConfig.timeout,
        "seconds without data before a request fails",
        flags=("--timeout",),
        metavar="SECONDS",
        minimum=0,
        cli=True,
        llm="timeout",
    ),
    Setting(
        "default_format",
        str,
        "markdown",
        "what `-f/--format` is when a cell gives none",
        flags=("-f", "--format"),
        metavar="FORMAT",
        option_help="`markdown` (default), `text` (verbatim), `code` (its code becomes the next cell), "
        "`json` (validated, pretty-printed, parsed into `-o`), `html` (allow-list sanitised)",
        choices=FORMATS,
        aliases=("format",),
    ),
    Setting(
        "out",
        str,
        None,
        "store the answer in a variable (the parsed value for `-f json`, the code for `-f code`)",
        flags=("-o", "--out"),
        metavar="VAR",
        trait=False,
    ),
    Setting(
        "chat",
        str,
        None,
        "which conversation the cell belongs to (several can live in one notebook; default: the notebook's)",
        flags=("--chat",),
        metavar="NAME",
        trait=False,
    ),
    Setting(
        "history",
        bool,
        True,
        "send the earlier exchanges of the conversation with each prompt",
        flags=("--no-history",),
        option_help="send only this prompt, not the conversation",
    ),
    Setting(
        "template",
        bool,
        True,
        "render `{{ expression }}` in prompts",
        flags=("--no-template",),
        option_help="send the text as is, without `{{ }}` rendering",
    ),
    Setting(
        "budget",
        float,
        None,
        "USD for this session: a cell whose estimated input cost would pass what is left is not "
        "sent (`%agent usage` shows what was spent)",
        minimum=0,
    ),
    Setting(
        "dry_run",
        bool,
        False,
        "show what the cell would send (every message, its tokens, the context window, the input "
        "cost) and send nothing",
        flags=("--dry-run",),
        trait=False,
    ),
    Setting(
        "background",
        bool,
        False,
        "stream answers in the background: the cell returns at once and other cells run meanwhile "
        "(`%agent wait` waits for them, `%agent stop` stops them)",
        flags=("--bg",),
        option_help="return at once: the answer streams into this cell while other cells run",
    ),
    Setting("warm_up", bool, True, "import and exercise litellm in the background when the extension loads"),
    Setting(
        "show_thinking",
        bool,
        True,
        "show what a reasoning model thinks, live, then closed above the answer (off: only its clock)",
    ),
    Setting(
        "remote_images",
        bool,
        False,
        "show images from other sites in answers; off, each is a link with its alt text and host, "
        "since fetching it could send the site what the model read (`data:` images always show)",
    ),
    Setting(
        "view",
        str,
        "auto",
        "the live view: `auto` (widgets in Jupyter, text in a terminal), `widget`, `terminal`, "
        "or `html` for frontends without widgets",
        choices=VIEWS,
    ),
)

BY_NAME = {setting.name: setting for setting in SETTINGS}
TRAIT_NAMES = tuple(setting.name for setting in SETTINGS if setting.trait)
FILE_KEYS = {key: setting.name for setting in SETTINGS for key in setting.file_keys}


def plain(text: str) -> str:
    """Help as plain text: the README's backticks dropped."""
    return text.replace("`", "")


# -- values: checking one, and layering them ---------------------------------------------
def check(setting: Setting, value: Any) -> Any:
    """``value`` as ``setting`` holds it, or ``ValueError`` saying what is wrong (short, no name).

    The config file and the options go through this; ``%config`` goes through
    the trait (same type and choices) and ``LLMConfig`` (same bounds).
    """
    kind = setting.kind
    if kind in (int, float):
        # bool is an int to Python, never to a user; a float where an int goes is a typo too.
        wrong = isinstance(value, bool) or not isinstance(value, int | float)
        if wrong or (kind is int and isinstance(value, float)):
            raise ValueError(f"expected {'a whole number' if kind is int else 'a number'}, not {value!r}")
        value = kind(value)
        low, high = setting.minimum, setting.maximum
        if (low is not None and value < low) or (high is not None and value > high):
            bounds = (
                f"between {low:g} and {high:g}"
                if low is not None and high is not None
                else (f"at least {low:g}" if low is not None else f"at most {high:g}")
            )
            raise ValueError(f"must be {bounds}, not {value:g}")
        return value
    if not isinstance(value, kind):
        raise ValueError(f"expected {_KIND_WORDS.get(kind, kind.__name__)}, not {value!r}")
    if setting.choices is not None and value not in setting.choices:
        raise ValueError(f"expected one of {', '.join(setting.choices)}, not {value!r}")
    return value


_KIND_WORDS = {str: "text", bool: "true or false", dict: "a table of KEY = VALUE"}


def option_values(args: argparse.Namespace, surface: Surface = "cell") -> dict[str, Any]:
    """What the options on one command line set, by setting name (``None``: not given).

    Raises ``ConfigurationError`` for a malformed ``--param``.
    """
    values: dict[str, Any] = {}
    for setting in _on(surface):
        given = getattr(args, setting.dest)
        if setting.kind is bool:
            values[setting.name] = setting.flag_value if given else None
        elif setting.kind is dict:
            values[setting.name] = parse_params(given) if given else None
        else:
            values[setting.name] = given
    return values


def effective(defaults: Mapping[str, Any], options: Mapping[str, Any]) -> dict[str, Any]:
    """Every setting's value for one request: the option where given, else the default.

    ``defaults`` are the layers below the command line, already merged (for
    the magic: its traits, which hold file < IPython config < ``%config``).
    A ``dict`` setting merges instead: the options' keys over the defaults'.
    An empty ``--system ""`` is given (it clears a default system prompt).
    """
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        default = defaults.get(setting.name, setting.default)
        given = options.get(setting.name)
        if setting.kind is dict:
            values[setting.name] = {**(default or {}), **(given or {})}
        else:
            values[setting.name] = given if given is not None else default
    return values


def build_config(defaults: Mapping[str, Any], options: Mapping[str, Any]) -> LLMConfig:
    """The one ``LLMConfig`` the magic and the CLI send, from the layered settings.

    Streams are never cached, and a notebook or terminal asks afresh each
    time, so the completion cache is off.
    """
    values = effective(defaults, options)
    fields = {setting.llm: values[setting.name] for setting in SETTINGS if setting.llm is not None}
    return LLMConfig(**fields, enable_cache=False)


# -- the config file ------------------------------------------------------------------------
def config_path() -> Path:
    explicit = os.environ.get("KAGURA_CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "kagura_magic" / "config.toml"


@dataclass
class UserSettings:
    path: Path
    values: dict[str, Any] = field(default_factory=dict)  # setting name -> checked value
    problems: list[str] = field(default_factory=list)


def load_user_settings(path: Path | None = None) -> UserSettings:
    """Read the file if it exists; problems are collected, never raised.

    A bad file, or a bad value in it, must not break loading the extension or
    running ``kagura``: it is reported and ignored, the rest still applies.
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
        name = FILE_KEYS.get(key)
        if name is None:
            settings.problems.append(
                f"{path}: unknown setting {key!r} ignored{_did_you_mean(key, FILE_KEYS)} "
                f"(known: {', '.join(sorted(FILE_KEYS))})."
            )
            continue
        try:
            settings.values[name] = check(BY_NAME[name], value)
        except ValueError as error:
            settings.problems.append(f"{path}: {key} = {value!r} ignored ({error}).")
    return settings


# -- traits, options, usage and help --------------------------------------------------------
def traits() -> dict[str, TraitType[Any, Any]]:
    """The ``%config AgentMagics.<name>`` traits, to be placed in the class body.

    traitlets is imported here, not at the top: ``kagura`` never needs it.
    """
    from traitlets import Bool, Dict, Enum, Float, Int, Unicode

    made: dict[str, TraitType[Any, Any]] = {}
    for setting in SETTINGS:
        if not setting.trait:
            continue
        text = plain(setting.help)
        # None as the default means "unset": the trait must accept it back (%config ... = None).
        optional: dict[str, Any] = {"allow_none": setting.default is None, "help": text}
        trait: TraitType[Any, Any]
        if setting.choices is not None:
            trait = Enum(list(setting.choices), setting.default, **optional)
        elif setting.kind is str:
            trait = Unicode(setting.default, **optional)
        elif setting.kind is float:
            trait = Float(setting.default, **optional)
        elif setting.kind is int:
            trait = Int(setting.default, **optional)
        elif setting.kind is bool:
            trait = Bool(setting.default, help=text)
        elif setting.kind is dict:
            trait = Dict(help=text)
        else:  # pragma: no cover - a declaration error, caught by the tests on import
            raise TypeError(f"no trait for {setting.kind!r} ({setting.name})")
        made[setting.name] = trait.tag(config=True)
    return made


def _on(surface: Surface) -> list[Setting]:
    return [s for s in SETTINGS if s.flags and (surface == "cell" or s.cli)]


def argparse_options(surface: Surface) -> list[tuple[tuple[str, ...], dict[str, Any]]]:
    """``(flags, add_argument keywords)`` for each option of ``%%agent`` or of ``kagura``.

    Every default is ``None`` (or ``False`` for a flag): "not given", so the
    layers below the command line show through.
    """
    specs = []
    for setting in _on(surface):
        # argparse %-formats help strings (for %(default)s): a literal % must be doubled.
        keywords: dict[str, Any] = {"help": plain(setting.option_help or setting.help).replace("%", "%%")}
        if setting.kind is bool:
            keywords["action"] = "store_true"
        elif setting.kind is dict:
            keywords.update(action="append", metavar=setting.metavar)
        else:
            keywords["metavar"] = setting.metavar
            if setting.choices is not None:
                keywords["choices"] = setting.choices
            if setting.kind in (int, float):
                keywords["type"] = _converter(setting)
        specs.append((setting.flags, keywords))
    return specs


def add_options(parser: argparse.ArgumentParser, surface: Surface) -> None:
    for flags, keywords in argparse_options(surface):
        parser.add_argument(*flags, **keywords)


def _converter(setting: Setting) -> Callable[[str], Any]:
    """An argparse ``type`` that reads the number and checks its bounds, naming neither in the error
    (argparse prefixes ``argument --max-tokens:``)."""

    def convert(text: str) -> Any:
        try:
            number = setting.kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected {'a whole number' if setting.kind is int else 'a number'}, not {text!r}"
            ) from None
        try:
            return check(setting, number)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    convert.__name__ = setting.name  # what argparse calls the type in its own messages
    return convert


def usage_line() -> str:
    """The one-line usage shown under an argument error (the full help is ``%%agent?``)."""
    return f"usage: %%agent {' '.join(s.usage() for s in _on('cell'))}  (%%agent? for help)"


def parse_args(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """``parser.parse_args``, with "did you mean --temperature?" for a misspelt option.

    The error goes through ``parser.error`` as argparse's own would: ``kagura``
    prints usage and exits 2, the magic's parser raises IPython's ``UsageError``.
    """
    args, extras = parser.parse_known_args(argv)
    if extras:
        known = [flag for action in parser._actions for flag in action.option_strings]
        matches = [match for word in extras if word.startswith("-") and (match := _closest(word, known))]
        message = f"unrecognized arguments: {' '.join(extras)}"
        if matches:
            message += f" (did you mean {' and '.join(matches)}?)"
        parser.error(message)
    return args


def _closest(word: str, known: Sequence[str]) -> str | None:
    # Compare without the dashes (and any "=value"): "--temprature" and "--temperature"
    # differ by one letter, and the shared "--" must not make every long option look close.
    names = {flag.lstrip("-"): flag for flag in known if flag.startswith("--")}
    typed = word.split("=", 1)[0].lstrip("-")
    match = difflib.get_close_matches(typed, list(names), n=1, cutoff=0.75)
    return names[match[0]] if match else None


def _did_you_mean(word: str, known: Mapping[str, Any]) -> str:
    match = difflib.get_close_matches(word, list(known), n=1, cutoff=0.75)
    return f" (did you mean {match[0]!r}?)" if match else ""


def plain_help(parser: argparse.ArgumentParser, prog: str, description: str) -> str:
    """The magic's help as plain text: no reST ``::`` or ``<>`` around metavars (IPython's
    formatter adds both for its docs), no double backticks."""
    import copy
    import inspect

    readable = copy.copy(parser)
    readable.prog = prog
    readable.description = inspect.cleandoc(description)
    readable.formatter_class = argparse.RawDescriptionHelpFormatter
    return readable.format_help()


# -- showing the settings -------------------------------------------------------------------
def report(
    values: Mapping[str, Any],
    sources: Mapping[str, str],
    problems: Sequence[str],
    environ: Mapping[str, str] | None = None,
) -> str:
    """``%agent config``: each effective value and where it came from; secrets masked."""
    environ = os.environ if environ is None else environ
    lines = []
    for setting in SETTINGS:
        if not setting.trait:
            continue
        value = values[setting.name]
        source = sources.get(setting.name, "default")
        if value is None and setting.env and environ.get(setting.env):
            value, source = environ[setting.env], f"${setting.env}"
        if setting.kind is dict:
            value = masked_params(dict(value))
        # The password or ?key= an api_base URL may hold, and any key the process knows.
        hidden = [*secrets.secrets_of(api_base=value), *secrets.known()]
        lines.append(secrets.mask(f"{setting.name:<15} {value!r:<32} [{source}]", hidden))
    keys = sorted(k for k in environ if k.endswith("_API_KEY"))
    lines.append(
        f"{'api keys':<15} " + (", ".join(f"{k}={mask(environ[k])}" for k in keys) or "(none in environment)")
    )
    path = config_path()
    lines.append(f"{'config file':<15} {path}" + ("" if path.is_file() else " (not present)"))
    lines.extend(f"  ! {problem}" for problem in problems)
    return "\n".join(lines)


def readme_table() -> str:
    """The README's table of options and settings, as Markdown (a test holds the README to it)."""
    rows = [
        "| option | what it does | `%config AgentMagics.` | default | `kagura` |",
        "| --- | --- | --- | --- | --- |",
    ]
    for setting in SETTINGS:
        option = ""
        if setting.flags:
            option = "/".join(setting.flags) + (f" {setting.metavar}" if setting.metavar else "")
            option = f"`{option}`"
        name = ""
        if setting.trait:
            name = f"`{setting.name}`" + "".join(f" (file: `{alias}`)" for alias in setting.aliases)
        what = ((setting.option_help or setting.help) if setting.flags else setting.help).replace("|", r"\|")
        rows.append(
            f"| {option} | {what} | {name} | {_shown_default(setting)} | {'yes' if setting.cli else ''} |"
        )
    return "\n".join(rows) + "\n"


def _shown_default(setting: Setting) -> str:
    if not setting.trait:
        return ""
    if setting.default is None:
        return f"`${setting.env}`" if setting.env else "none"
    if isinstance(setting.default, str):
        return f'`"{setting.default}"`'
    return f"`{setting.default!r}`"
