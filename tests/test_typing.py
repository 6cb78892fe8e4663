"""The public API's static types, checked the way a user's type checker sees them.

Small programs that use ``@agent`` are written to a temporary folder and
checked by mypy in one run, with mypy's default settings (a user's, not our
strict ones); each test then reads the lines about its own program.
Errors inside ``kagura_magic`` are not reported here (``mypy --strict`` on the
package does that); these tests are about what a caller is told.
"""

from __future__ import annotations

import re
import tempfile
import textwrap
from pathlib import Path

import pytest
from mypy import api as mypy_api

pytestmark = pytest.mark.slow  # a mypy run: seconds even with a warm cache

REPO = Path(__file__).resolve().parents[1]

PROGRAMS = {
    # The README's example, as written there; top-level ``async for`` goes in a coroutine.
    "readme": '''
        from kagura_magic import agent

        @agent(model="demo/echo")
        def greet(name: str) -> str:
            """Say hello to {{ name }}."""                 # the docstring is a Jinja2 template

        reveal_type(greet("Ada"))                          # -> the answer, as a str

        @agent(stream=True, model="demo/story")
        async def story(topic: str): """Tell a story about {{ topic }}."""

        async def main() -> None:
            async for piece in story("lighthouses"):
                reveal_type(piece)
                print(piece, end="")
    ''',
    "int_function": '''
        from kagura_magic import agent

        @agent
        def count(text: str) -> int:
            """How many words are in {{ text }}? Answer with a number."""

        as_text: str = count("a b c")
        as_number: int = count("a b c")
    ''',
    "wrong_argument": '''
        from kagura_magic import agent

        @agent(model="demo/echo", temperature=0.2)
        def greet(name: str, mood: str = "cheerful") -> str:
            """Say hello to {{ name }} in a {{ mood }} way."""

        greet(42)
        greet("Ada", tone="calm")
    ''',
    "async_function": '''
        from kagura_magic import agent

        @agent(model="demo/echo")
        async def summarise(items: list[str]) -> str:
            """Summarise {{ items }}."""

        async def main() -> None:
            reveal_type(await summarise(["a", "b"]))
            summarise(["a"]).upper()
    ''',
}

SOURCES = {name: textwrap.dedent(source).lstrip() for name, source in PROGRAMS.items()}


def line_of(program: str, text: str) -> int:
    """The number of the line of ``program`` that contains ``text``."""
    return next(n for n, line in enumerate(SOURCES[program].splitlines(), 1) if text in line)


_LINE = re.compile(r"^(?P<file>[^:]+\.py):(?P<line>\d+): (?P<kind>error|note): (?P<message>.*)$")


@pytest.fixture(scope="module")
def mypy_says() -> dict[str, list[tuple[int, str, str]]]:
    """(line, "error"/"note", message) for each program, from one mypy run over all of them."""
    with tempfile.TemporaryDirectory(prefix="kagura-typing-") as folder:
        root = Path(folder)
        for name, source in SOURCES.items():
            (root / f"{name}.py").write_text(source, "utf-8")
        config = root / "mypy.ini"
        # follow_imports=silent: the package is analysed for its types, its own errors are not ours here.
        # litellm and IPython are skipped: nothing a caller sees comes from them, and they are large.
        # empty-body: mypy flags ``def f() -> str: """prompt"""`` (a docstring-only body with a
        # return type) whatever the decorator makes of it; that is about the definition, not the call.
        config.write_text(
            "[mypy]\n"
            "python_version = 3.10\n"
            "disable_error_code = empty-body\n"
            f"mypy_path = {REPO}\n"
            "follow_imports = silent\n"
            f"cache_dir = {Path(tempfile.gettempdir()) / 'kagura-typing-mypy-cache'}\n"
            "[mypy-litellm.*,IPython.*,ipywidgets.*]\n"
            "follow_imports = skip\n"
            "ignore_missing_imports = True\n"
            "[mypy-pygments.*,tomli]\n"
            "ignore_missing_imports = True\n",
            "utf-8",
        )
        stdout, stderr, _status = mypy_api.run(
            ["--config-file", str(config), "--no-error-summary", "--hide-error-context",
             *(str(root / f"{name}.py") for name in PROGRAMS)]
        )  # fmt: skip
    assert not stderr, stderr
    said: dict[str, list[tuple[int, str, str]]] = {name: [] for name in PROGRAMS}
    for line in stdout.splitlines():
        match = _LINE.match(line)
        assert match, f"unexpected mypy output: {line}"
        said[Path(match["file"]).stem].append((int(match["line"]), match["kind"], match["message"]))
    return said


def _errors(said: list[tuple[int, str, str]]) -> dict[int, str]:
    return {line: message for line, kind, message in said if kind == "error"}


def _revealed(said: list[tuple[int, str, str]]) -> dict[int, str]:
    """``reveal_type`` notes by line, as the type's name (mypy 2 drops the ``builtins.``)."""
    revealed = (re.fullmatch(r'Revealed type is "(?:builtins\.)?(.*)"', message) for _, _, message in said)
    return {line: match[1] for (line, _, _), match in zip(said, revealed, strict=True) if match}


def test_readme_example_checks_and_the_stream_yields_str(mypy_says: dict) -> None:
    said = mypy_says["readme"]
    assert _errors(said) == {}
    assert _revealed(said) == {
        line_of("readme", 'reveal_type(greet("Ada"))'): "str",
        line_of("readme", "reveal_type(piece)"): "str",
    }


def test_an_int_annotation_is_not_what_the_call_returns(mypy_says: dict) -> None:
    errors = _errors(mypy_says["int_function"])
    wrong = line_of("int_function", "as_number: int")
    assert list(errors) == [wrong], errors  # as_text: str is fine
    assert 'expression has type "str", variable has type "int"' in errors[wrong]
    assert "[assignment]" in errors[wrong]


def test_wrong_arguments_to_a_decorated_function_are_errors(mypy_says: dict) -> None:
    errors = _errors(mypy_says["wrong_argument"])
    number, keyword = line_of("wrong_argument", "greet(42)"), line_of("wrong_argument", "tone=")
    assert sorted(errors) == [number, keyword], errors
    assert "[arg-type]" in errors[number] and '"int"' in errors[number] and '"str"' in errors[number]
    assert "[call-arg]" in errors[keyword] and '"tone"' in errors[keyword]


def test_async_function_gives_an_awaitable_str(mypy_says: dict) -> None:
    said = mypy_says["async_function"]
    assert _revealed(said) == {line_of("async_function", "reveal_type"): "str"}
    errors = _errors(said)
    unawaited = line_of("async_function", ".upper()")
    assert list(errors) == [unawaited], errors  # not awaited: a coroutine has no .upper()
    assert "Coroutine" in errors[unawaited] and '"upper"' in errors[unawaited]
