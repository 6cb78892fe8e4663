"""The terminal views end to end: the real CLI and terminal IPython on a pseudo-terminal.

Each run is replayed through a VT emulator (``tests/pty_harness.py``), offline
on ``demo/echo``, and compared with the reference picture (see
``tests/terminal_helpers.py``).
"""

from __future__ import annotations

import re
import sys
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from kagura_magic.views.terminal import plain
from tests.pty_harness import Cell, Picture, PtyRun, kagura_argv, run_on_pty
from tests.terminal_helpers import ANSWER, PROSE, SMALL, assert_same_after_resize, reference, reference_rows

pytestmark = pytest.mark.slow


def _echo(*extra: str, tps: int = 600) -> list[str]:
    return kagura_argv("-m", "demo/echo", "--param", f"tokens_per_second={tps}", *extra)


_IPYTHON_CODE = (
    "get_ipython().run_line_magic('load_ext', 'kagura_magic'); "
    "get_ipython().run_cell_magic('agent', '-m demo/echo --param tokens_per_second=600', {text!r})"
)


def _spec(argv: list[str], size: tuple[int, int], stdin: str, **options: object) -> dict:
    return {"argv": argv, "columns": size[0], "lines": size[1], "stdin": stdin, **options}


_RUNS: dict[str, dict] = {
    "80x24-600": _spec(_echo(), (80, 24), ANSWER),
    "100x30-0-nocolor": _spec(_echo(tps=0), (100, 30), ANSWER, env={"NO_COLOR": "1"}),
    # Unbuffered, as in many containers: a resize mid-write must not lose the end of a frame.
    "grow": _spec(
        _echo(), (80, 24), SMALL, resize_after=8_000, resize_to=(100, 30), env={"PYTHONUNBUFFERED": "1"}
    ),
    "ctrl-c": _spec(_echo(), (80, 24), SMALL, interrupt_after=8_000),
    "plain-fail": _spec(
        _echo("--plain", "--param", "fail_after=300", tps=0), (80, 24), "# Raw\n\n**bold** | pipe\n\n" + PROSE
    ),
    "ipython": _spec(
        [
            sys.executable,
            "-m",
            "IPython",
            "--no-banner",
            "--colors=NoColor",
            "-c",
            _IPYTHON_CODE.format(text=SMALL),
        ],
        (80, 24),
        "",
    ),
}


@pytest.fixture(scope="module")
def pty_runs() -> Iterator[dict[str, PtyRun | BaseException]]:
    """All pty runs at once (each mostly waits on the stream or on importing litellm)."""

    def one(spec: dict) -> PtyRun | BaseException:
        spec = dict(spec)
        try:
            return run_on_pty(spec.pop("argv"), **spec, timeout=90)
        except BaseException as error:  # reported by the test that needs this run
            return error

    with ThreadPoolExecutor(max_workers=3) as pool:
        results = dict(zip(_RUNS, pool.map(one, _RUNS.values()), strict=True))
    yield results


def _run(pty_runs: dict, name: str) -> PtyRun:
    run = pty_runs[name]
    if isinstance(run, BaseException):
        raise run
    Path(tempfile.gettempdir(), f"kagura-pty-{name}.bin").write_bytes(run.output)  # to replay a failure
    return run


def _first_difference(rows: list[list[Cell]], expected: list[list[Cell]]) -> tuple | None:
    """Where two pictures first differ, cell by cell: (row, column, got, expected)."""
    for y, (row, want) in enumerate(zip(rows, expected, strict=False)):
        for x in range(max(len(row), len(want))):
            got = row[x] if x < len(row) else None
            cell = want[x] if x < len(want) else None
            if got != cell:
                return (y, x, got, cell)
    return None


def _status_and_answer(picture: Picture) -> tuple[list[str], str]:
    lines = picture.lines
    return lines[:-1], lines[-1]


def test_cli_on_a_terminal_shows_the_reference_picture(pty_runs: dict) -> None:
    run = _run(pty_runs, "80x24-600")
    assert run.returncode == 0, run.output[-500:]
    answer, status = _status_and_answer(run.picture)
    expected = reference(ANSWER, (80, 24), system="256")
    assert answer == expected.lines
    assert _first_difference(run.picture.rows, expected.rows) is None  # colours too
    assert status.startswith("demo/echo · first token") and "tok/s" in status and "tokens" in status
    # the spinner said what it waited for, and is gone
    assert b"Waiting for demo/echo" in run.output and "Waiting" not in "\n".join(run.picture.lines)
    assert b"\x1b[2m" + status.encode() in run.output  # the status line is dim
    final = len(("\n".join(reference_rows(ANSWER, 80, system="256")) + "\n").encode())
    assert len(run.output) <= 8 * final


def test_cli_at_full_speed_without_colour(pty_runs: dict) -> None:
    run = _run(pty_runs, "100x30-0-nocolor")
    assert run.returncode == 0, run.output[-500:]
    answer, status = _status_and_answer(run.picture)
    assert answer == reference(ANSWER, (100, 30), color=False).lines
    assert "tok/s" in status
    assert not re.search(rb"\x1b\[[0-9;]*(3[0-9]|4[0-9]|9[0-7])m", run.output)


def test_cli_resized_mid_stream(pty_runs: dict) -> None:
    run = _run(pty_runs, "grow")
    assert run.returncode == 0
    answer, status = _status_and_answer(run.picture)
    assert "tok/s" in status
    assert_same_after_resize(answer, SMALL, 80, 100)
    assert max(len(line) for line in answer) > 80  # the resize happened mid-stream


def test_cli_ctrl_c_keeps_the_partial_answer(pty_runs: dict) -> None:
    run = _run(pty_runs, "ctrl-c")
    lines = run.picture.lines
    assert run.returncode == 130
    assert b"Traceback" not in run.output
    message = [i for i, line in enumerate(lines) if "interrupted" in line.lower()]
    assert len(message) == 1 and "demo/echo" in lines[message[0]] and "tokens" in lines[message[0]]
    shown = [line for line in lines[: message[0]] if line and line != "^C"]
    full = [row for row in (plain(row).rstrip() for row in reference_rows(SMALL, 80)) if row]
    assert 5 < len(shown) < len(full)
    assert shown[:-3] == full[: len(shown) - 3]  # what was shown stays (the last rows: healed tail)


def test_cli_plain_forces_raw_markdown_and_errors_keep_the_partial(pty_runs: dict) -> None:
    run = _run(pty_runs, "plain-fail")
    lines = [line for line in run.picture.lines if line]
    assert run.returncode == 1 and b"Traceback" not in run.output
    assert lines[:2] == ["# Raw", "**bold** | pipe"]
    mark = next(i for i, line in enumerate(lines) if line.startswith("✖"))
    assert "onnection" in lines[mark] and len(lines) - mark <= 3  # two lines (the first wraps at 80)
    assert "".join(lines[2:mark]) == PROSE[: len("".join(lines[2:mark]))]  # the partial answer, raw
    assert len("".join(lines[2:mark])) > 200


def test_terminal_ipython_uses_the_live_view(pty_runs: dict) -> None:
    run = _run(pty_runs, "ipython")
    assert run.returncode == 0, run.output[-800:]
    lines = run.picture.lines
    expected = [plain(row).rstrip() for row in reference_rows(SMALL, 80)]
    start = lines.index(expected[0])
    assert lines[start : start + len(expected)] == expected
    assert "tok/s" in lines[start + len(expected)]
    assert b"Traceback" not in run.output
