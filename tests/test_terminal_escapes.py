"""Model text never drives the terminal: its control sequences are shown, not obeyed.

In process, the live view, the scrollback it prints and ``--plain`` on a
terminal are checked for the raw sequences and for their visible form; piped
output stays the answer byte for byte. On a real pty (``pty_harness`` +
``pyte``) the CLI streams an answer that tries to set the title, write the
clipboard and clear the screen.
"""

from __future__ import annotations

import io
import re

import pytest

from kagura_magic.llm import StreamStats
from kagura_magic.views import Outcome
from kagura_magic.views.terminal import (
    LiveMarkdownView,
    PlainStreamView,
    Renderer,
    make_view,
    plain,
    visible_controls,
)
from tests.pty_harness import kagura_argv, run_on_pty

TITLE = "\x1b]0;pwned\x07"
CLIPBOARD = "\x1b]52;c;cHduZWQ=\x07"
CLEAR = "\x1b[2J"
DCS = "\x1bP1$qm\x1b\\"
C1_CSI = "\x9b31m"
ATTACK = (
    f"# Report {TITLE}\n\nCopy {CLIPBOARD} this.\n\n{CLEAR}Gone? {DCS} and {C1_CSI}red\n\n"
    f"```\ncode {CLEAR}x\n```\n"
)
SHOWN = ["^[]0;pwned^G", "^[]52;c;cHduZWQ=^G", "^[[2J", "^[P1$qm^[\\", "<U+009B>31m"]
# What model text could make a terminal do; our own cursor moves and SGR colours are not here.
RAW = re.compile("\x1b[]P^_X]|\x1b\\[2J|\x07|[\x80-\x9f]")


@pytest.fixture(autouse=True)
def _no_colour(monkeypatch: pytest.MonkeyPatch) -> None:
    """rich caches a style's escape codes for the first colour system it renders with."""
    monkeypatch.setenv("NO_COLOR", "1")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _complete(text: str) -> Outcome:
    return Outcome("complete", text, StreamStats(model="m"))


# -- the one function ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("\x1b[2J", "^[[2J"),
        ("a\x07b", "a^Gb"),
        ("\x00\x08\x7f", "^@^H^?"),
        ("x\x9b31m", "x<U+009B>31m"),
        ("\x90dcs\x9c", "<U+0090>dcs<U+009C>"),
        ("tab\tnew\nline\r\nend", "tab\tnew\nline\r\nend"),
        ("over\rwrite", "over^Mwrite"),
        ("plain ünïcode 表 😀", "plain ünïcode 表 😀"),
    ],
)
def test_controls_become_visible(text: str, shown: str) -> None:
    assert visible_controls(text) == shown


def test_no_control_character_survives() -> None:
    every = "".join(chr(code) for code in range(0x100))
    kept = {c for c in visible_controls(every) if ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F}
    assert kept == {"\t", "\n"}


def test_the_visible_forms_keep_the_markdown_layout() -> None:
    """Heading, paragraphs and code block render as such, the controls shown inside them."""
    rows = [plain(row).strip() for row in Renderer(60, color=False).rows(ATTACK)]
    assert [row for row in rows if row] == [
        "Report ^[]0;pwned^G",
        "Copy ^[]52;c;cHduZWQ=^G this.",
        "^[[2JGone? ^[P1$qm^[\\ and <U+009B>31mred",
        "code ^[[2Jx",
    ]


# -- the views, in process ---------------------------------------------------------------------
def test_the_live_view_and_its_scrollback_show_the_visible_form() -> None:
    out, err = _Terminal(), _Terminal()
    view = LiveMarkdownView("m", out=out, err=err, size=lambda: (80, 24), color=False, spinner=False)
    view.start()
    for index in range(0, len(ATTACK), 7):  # the sequences cut at every kind of place
        view.feed(ATTACK[index : index + 7])
        view.flush()
    view.settle(_complete(ATTACK))
    written = out.getvalue()
    assert not RAW.search(written), RAW.findall(written)
    for shown in SHOWN:
        assert shown in written
    assert view.text == ATTACK  # the answer itself (history, -o) is what the model sent


def test_an_answer_cut_short_keeps_its_rows_visible_but_harmless() -> None:
    out = _Terminal()
    view = LiveMarkdownView("m", out=out, err=_Terminal(), size=lambda: (80, 24), color=False, spinner=False)
    view.feed(f"Partial {TITLE} and {CLEAR}")
    view.flush()
    view.settle(Outcome("failed", view.text, message="cut"))
    assert not RAW.search(out.getvalue()) and "^[]0;pwned^G" in out.getvalue()


def test_plain_on_a_terminal_shows_controls_and_keeps_crlf_whole_across_pieces() -> None:
    out = _Terminal()
    view = make_view("m", out=out, err=_Terminal(), mode="verbatim")
    assert isinstance(view, PlainStreamView)
    view.start()
    for piece in ["one\r", "\ntwo ", TITLE[:3], TITLE[3:], " three\r"]:
        view.feed(piece)
    view.settle(_complete(view.text))
    assert out.getvalue() == "one\r\ntwo ^[]0;pwned^G three^M\n"


def test_piped_output_is_the_answer_byte_for_byte() -> None:
    out = io.StringIO()
    view = make_view("m", out=out, err=io.StringIO())
    assert isinstance(view, PlainStreamView)
    for index in range(0, len(ATTACK), 5):
        view.feed(ATTACK[index : index + 5])
    view.settle(_complete(ATTACK))
    assert out.getvalue() == ATTACK


def test_the_cli_help_says_piped_output_is_exact_and_terminals_see_controls() -> None:
    from kagura_magic.__main__ import build_parser

    text = " ".join(build_parser().format_help().split())
    assert "byte for byte" in text and "^[" in text and "not a terminal" in text


# -- on a real pty -------------------------------------------------------------------------------
@pytest.mark.slow  # two CLI processes that import litellm
@pytest.mark.parametrize("plain_flag", [[], ["--plain"]], ids=["live", "plain"])
def test_the_terminal_never_receives_the_raw_sequences(plain_flag: list[str]) -> None:
    prompt = f"Hello {TITLE}there\n\nclip {CLIPBOARD}board\n\n{CLEAR}still here\n"
    argv = kagura_argv("-m", "demo/echo", "--param", "tokens_per_second=0", *plain_flag)
    run = run_on_pty(argv, 80, 24, stdin=prompt, env={"NO_COLOR": "1"}, timeout=90)
    assert run.returncode == 0, run.output[-500:]
    for raw in (TITLE, CLIPBOARD, CLEAR, "\x1b]", "\x07"):
        assert raw.encode() not in run.output
    screen = "\n".join(run.picture.lines)
    assert "Hello ^[]0;pwned^Gthere" in screen
    assert "clip ^[]52;c;cHduZWQ=^Gboard" in screen
    assert "^[[2Jstill here" in screen
    assert "demo/echo" in screen  # the status line: nothing was cleared
