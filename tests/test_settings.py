"""Settings: declared once in ``settings.py``; every surface (traits, ``%%agent`` options,
config-file keys, ``kagura`` options, ``%agent config``, the README) agrees with the rows."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from IPython.core.error import UsageError

from kagura_magic.settings import config_path, load_user_settings

README = Path(__file__).resolve().parent.parent / "README.md"


@pytest.fixture
def no_config_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A missing config file: the developer's own must not change what these tests see."""
    path = tmp_path / "absent.toml"
    monkeypatch.setenv("KAGURA_CONFIG", str(path))
    return path


def magics() -> Any:
    """The real AgentMagics, outside a kernel: parsing and subcommands need no shell."""
    from kagura_magic.magic import AgentMagics

    return AgentMagics()


# -- the config file ----------------------------------------------------------------------
def test_path_follows_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("KAGURA_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert config_path() == tmp_path / "kagura_magic" / "config.toml"
    monkeypatch.setenv("KAGURA_CONFIG", str(tmp_path / "mine.toml"))
    assert config_path() == tmp_path / "mine.toml"


def test_values_map_to_traits(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('model = "demo/echo"\nformat = "text"\ntemperature = 0.2\n[params]\nseed = 7\n')
    settings = load_user_settings(path)
    assert settings.values == {
        "model": "demo/echo",
        "default_format": "text",
        "temperature": 0.2,
        "params": {"seed": 7},
    }
    assert settings.problems == []


def test_bad_files_are_reported_not_raised(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("model = \n")
    assert "not read" in load_user_settings(broken).problems[0]
    unknown = tmp_path / "unknown.toml"
    unknown.write_text('colour = "blue"\n')
    assert "unknown setting 'colour'" in load_user_settings(unknown).problems[0]
    assert load_user_settings(tmp_path / "missing.toml").values == {}


def test_bad_values_in_the_file_are_each_reported_and_the_rest_applies(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        'temperature = "hot"\nmax_tokens = 0\nformat = "pdf"\nhistory = "yes"\n'
        'temprature = 0.2\ntimeout = 30\nmodel = "demo/echo"\n'
    )
    loaded = load_user_settings(path)
    assert loaded.values == {"timeout": 30.0, "model": "demo/echo"}
    problems = "\n".join(loaded.problems)
    assert len(loaded.problems) == 5
    assert "temperature = 'hot' ignored (expected a number" in problems
    assert "max_tokens = 0 ignored (must be at least 1" in problems
    assert "format = 'pdf' ignored (expected one of markdown, text" in problems
    assert "history = 'yes' ignored (expected true or false" in problems
    assert "unknown setting 'temprature' ignored (did you mean 'temperature'?)" in problems


# -- one declaration, every surface -------------------------------------------------------
def test_traits_are_the_declarations() -> None:
    from traitlets import Bool, Dict, Enum, Float, Int, Unicode

    from kagura_magic import settings
    from kagura_magic.magic import AgentMagics

    traits = AgentMagics.class_traits(config=True)
    assert tuple(sorted(traits)) == tuple(sorted(settings.TRAIT_NAMES))
    expected_type = {str: Unicode, float: Float, int: Int, bool: Bool, dict: Dict}
    for name in settings.TRAIT_NAMES:
        setting, trait = settings.BY_NAME[name], traits[name]
        assert type(trait) is (Enum if setting.choices else expected_type[setting.kind]), name
        assert trait.default() == setting.default, name
        assert trait.help == settings.plain(setting.help), name
        if setting.choices:
            assert tuple(trait.values) == setting.choices  # type: ignore[attr-defined]


def test_traits_are_the_names_types_and_defaults_of_before() -> None:
    """The declaration must not rename or retype a setting users already configure."""
    from kagura_magic.magic import AgentMagics

    defaults = {name: trait.default() for name, trait in AgentMagics.class_traits(config=True).items()}
    assert defaults == {
        "model": None,
        "system": None,
        "temperature": None,
        "max_tokens": None,
        "api_base": None,
        "params": {},
        "timeout": 120.0,
        "history": True,
        "template": True,
        "default_format": "markdown",
        "warm_up": True,
        "show_thinking": True,
        "background": False,
        "budget": None,
        "remote_images": False,
        "reasoning_effort": None,
        "view": "auto",
    }


def _options(parser: object) -> dict[str, tuple[str, ...]]:
    """dest -> option strings, for every optional argument of an argparse parser."""
    return {a.dest: tuple(a.option_strings) for a in parser._actions if a.option_strings}  # type: ignore[attr-defined]


def test_magic_options_are_the_declarations_and_spelt_as_before() -> None:
    from kagura_magic import settings
    from kagura_magic.magic import AgentMagics

    options = _options(AgentMagics.agent.parser)  # type: ignore[attr-defined]
    declared = {s.dest: s.flags for s in settings.SETTINGS if s.flags}
    assert options == declared
    spelt = {flag for flags in options.values() for flag in flags}
    before = {"-m", "--model", "--system", "--temperature", "--max-tokens", "--api-base", "--param"}
    before |= {
        "-f",
        "--format",
        "-o",
        "--out",
        "--chat",
        "--no-history",
        "--no-template",
        "--bg",
        "--dry-run",
    }
    assert spelt == before | {"--timeout", "--reasoning-effort"}
    for setting in settings.SETTINGS:
        assert not setting.flags or setting.usage() in settings.usage_line()


def test_cli_options_are_the_declarations_plus_its_own() -> None:
    from kagura_magic import settings
    from kagura_magic.__main__ import build_parser

    options = _options(build_parser())
    own = {
        "help": ("-h", "--help"),
        "plain": ("--plain",),
        "quiet": ("-q", "--quiet"),
        # Not the show_thinking trait: that one hides thinking, this keeps it in the scrollback.
        "show_thinking": ("--show-thinking",),
        "bg": ("--bg",),  # only to say that --bg needs a notebook
    }
    assert options == {**{s.dest: s.flags for s in settings.SETTINGS if s.cli}, **own}


def test_file_keys_are_the_trait_names_and_the_format_alias() -> None:
    from kagura_magic import formats, settings

    assert {**{n: n for n in settings.TRAIT_NAMES}, "format": "default_format"} == settings.FILE_KEYS
    assert formats.FORMATS == settings.FORMATS, "-f's choices are the formats that exist"


def test_readme_table_is_the_declarations() -> None:
    from kagura_magic import settings

    table = settings.readme_table()
    assert table in README.read_text(encoding="utf-8"), (
        "README.md's options table differs from settings.SETTINGS; paste settings.readme_table()"
    )
    for setting in settings.SETTINGS:
        assert f"`{setting.name}`" in table or not setting.trait


# -- layering: one LLMConfig for the magic and the CLI ------------------------------------
def test_cell_options_win_over_session_defaults_and_params_merge(no_config_file: Path) -> None:
    from kagura_magic import settings
    from kagura_magic.magic import AgentMagics

    parser = AgentMagics.agent.parser  # type: ignore[attr-defined]
    session = {
        "temperature": 0.5,
        "system": "Be formal",
        "params": {"seed": 1, "user": "ada"},
        "timeout": 30.0,
    }
    given = settings.parse_args(parser, ["--temperature", "0.2", "--param", "seed=2", "--system", ""])
    config = settings.build_config(session, settings.option_values(given))
    assert (config.temperature, config.system_prompt, config.timeout) == (0.2, "", 30.0)
    assert config.extra == {"seed": 2, "user": "ada"}
    untouched = settings.build_config(session, settings.option_values(settings.parse_args(parser, [])))
    assert (untouched.temperature, untouched.system_prompt, untouched.extra) == (
        0.5,
        "Be formal",
        session["params"],
    )
    assert settings.build_config({}, {}).timeout == 120.0


def test_timeout_is_a_cell_option_like_on_the_cli(no_config_file: Path) -> None:
    agent = magics()
    assert agent._config(agent._parse("-m demo/echo --timeout 5")).timeout == 5.0


def test_quoted_cell_options_lose_their_quotes_as_in_a_shell(no_config_file: Path) -> None:
    agent = magics()
    config = agent._config(agent._parse("""-m demo/echo --system "Be brief." --param 'stop=["x"]'"""))
    assert config.system_prompt == "Be brief."
    assert config.extra == {"stop": ["x"]}


# -- argument errors: short, and naming what was meant ------------------------------------
def test_a_misspelt_cell_option_suggests_the_right_one(no_config_file: Path) -> None:
    with pytest.raises(UsageError) as info:
        magics().agent("--temprature 0.2", "hi")
    first = str(info.value).splitlines()[0]
    assert first == "unrecognized arguments: --temprature (did you mean --temperature?)"
    assert str(info.value).splitlines()[1].startswith("usage: %%agent")
    with pytest.raises(UsageError, match=r"unrecognized arguments: --bogus\n"):  # nothing close: no guess
        magics().agent("--bogus", "hi")


def test_a_misspelt_kagura_option_suggests_the_right_one(capsys: pytest.CaptureFixture[str]) -> None:
    from kagura_magic.__main__ import run

    with pytest.raises(SystemExit) as info:
        run(["--temprature", "0.2", "x"])
    assert info.value.code == 2
    error = capsys.readouterr().err
    assert "kagura: error: unrecognized arguments: --temprature (did you mean --temperature?)" in error


def test_max_tokens_zero_is_refused_by_the_magic_and_the_cli(
    no_config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before, the magic dropped ``--max-tokens 0`` silently (``0 or default``)."""
    from kagura_magic.__main__ import run

    with pytest.raises(UsageError) as info:
        magics().agent("-m demo/echo --max-tokens 0 --no-history", "hi")
    assert str(info.value).splitlines()[0] == "argument --max-tokens: must be at least 1, not 0"
    with pytest.raises(SystemExit) as exit_info:
        run(["-m", "demo/echo", "--max-tokens", "0", "hi"])
    assert exit_info.value.code == 2
    assert "argument --max-tokens: must be at least 1, not 0" in capsys.readouterr().err


# -- help and %agent config ---------------------------------------------------------------
def test_agent_help_is_plain_text(no_config_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    magics().agent("help")
    text = capsys.readouterr().out
    assert "::" not in text and "``" not in text and "<KEY=VALUE>" not in text, "no reST markup"
    assert text.startswith("usage: %%agent [-m MODEL]")
    for words in (
        "--temperature T",
        "--no-history",
        "%agent config",
        "{{ expression }}",
        "%config AgentMagics",
    ):
        assert words in text


def test_report_shows_sources_and_masks_secrets(no_config_file: Path) -> None:
    from kagura_magic import settings

    values = {**{s.name: s.default for s in settings.SETTINGS}, "params": {"api_key": "sk-x-1", "seed": 7}}
    environ = {"KAGURA_MODEL": "demo/echo", "OPENAI_API_KEY": "sk-env-2"}
    shown = settings.report(values, {"params": "%config"}, ["a problem"], environ)
    assert "sk-x-1" not in shown and "sk-env-2" not in shown
    assert "{'api_key': '***', 'seed': 7}" in shown and "[%config]" in shown
    assert "model           'demo/echo'" in shown and "[$KAGURA_MODEL]" in shown
    assert "OPENAI_API_KEY=***" in shown and "(not present)" in shown and "  ! a problem" in shown
    assert [line.split()[0] for line in shown.splitlines()[: len(settings.TRAIT_NAMES)]] == list(
        settings.TRAIT_NAMES
    )


# -- kagura reads the same file -----------------------------------------------------------
@pytest.mark.slow  # a CLI process that imports litellm
def test_kagura_takes_its_defaults_from_the_config_file(tmp_path: Path) -> None:
    """The file a notebook reads is the terminal's too; a bad value in it is said once, not fatal.

    (``format`` is a notebook-only setting: valid in the file, unused by ``kagura``.)
    """
    path = tmp_path / "config.toml"
    path.write_text(
        'model = "demo/echo"\nformat = "text"\ntemperature = "hot"\n[params]\ntokens_per_second = 0\n'
    )
    env = {**os.environ, "KAGURA_CONFIG": str(path)}
    env.pop("KAGURA_MODEL", None)
    result = subprocess.run(
        [sys.executable, "-m", "kagura_magic", "-q", "hello"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert (result.returncode, result.stdout) == (0, "hello\n"), result.stderr
    assert result.stderr == f"kagura: {path}: temperature = 'hot' ignored (expected a number, not 'hot').\n"
