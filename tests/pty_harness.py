"""Run a command on a pseudo-terminal and look at what a user would see.

Every byte the command writes is replayed through ``pyte`` (a VT emulator)
with a scrollback (``HistoryScreen``), so a test sees the final picture:
scrollback plus screen, cell by cell, colours included. The window size is set
with ``TIOCSWINSZ``; a resize mid-run stops the child (``SIGSTOP``), drains
what it already wrote, resizes both the pty and the emulator, then lets it go
on (``SIGWINCH``, ``SIGCONT``): bytes written before the resize are drawn at
the old size, as a real terminal would.

pyte does not reflow on resize (like xterm): a shrink clips rows on the right,
and this harness moves rows cut off at the top into the scrollback, as xterm
does (pyte drops them).
"""

from __future__ import annotations

import fcntl
import os
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import pyte

Cell = tuple[str, str, str, bool, bool, bool, bool]
"""(text, fg, bg, bold, italics, underscore, reverse): what a cell shows."""


@dataclass
class Picture:
    """Scrollback then screen, trailing blank lines dropped."""

    rows: list[list[Cell]]
    cursor: tuple[int, int] = (0, 0)

    @property
    def lines(self) -> list[str]:
        return ["".join(cell[0] for cell in row).rstrip() for row in self.rows]


@dataclass
class PtyRun:
    output: bytes
    returncode: int
    picture: Picture
    stdin: bytes = b""
    timings: list[float] = field(default_factory=list)
    interrupted_at: float | None = None  # time.monotonic() when Ctrl-C was typed
    ended_at: float | None = None  # time.monotonic() when the child was seen to close the terminal


def _cell(char: pyte.screens.Char) -> Cell:
    return (char.data, char.fg, char.bg, char.bold, char.italics, char.underscore, char.reverse)


def _row(line: dict, columns: int) -> list[Cell]:
    cells = [_cell(line[x]) for x in range(columns)]
    blank = _cell(pyte.screens.Char(" "))
    while cells and cells[-1] == blank:
        cells.pop()
    return cells


class Terminal:
    """A pyte screen with an unlimited scrollback and xterm-like resizing."""

    def __init__(self, columns: int, lines: int) -> None:
        self.screen = pyte.HistoryScreen(columns, lines, history=1_000_000, ratio=0.5)
        self.screen.set_mode(pyte.modes.LNM)  # the pty's ONLCR turns "\n" into "\r\n"; replays too
        self.stream = pyte.ByteStream(self.screen)
        self._history_columns: list[int] = []

    def feed(self, data: bytes) -> None:
        self.stream.feed(data)

    def resize(self, columns: int, lines: int) -> None:
        screen = self.screen
        cut = min(max(screen.lines - lines, 0), screen.cursor.y)
        for y in range(cut):  # xterm keeps the cursor's row: rows above it go to the scrollback
            screen.history.top.append(screen.buffer[y])
        if cut:
            screen.save_cursor()
            screen.cursor_position(0, 0)
            screen.delete_lines(cut)
            screen.restore_cursor()
            screen.cursor.y -= cut
        if screen.lines > lines:  # what is still too much is blank rows below the cursor
            for y in range(lines, screen.lines):
                screen.buffer.pop(y, None)
            screen.lines = lines
        screen.resize(lines, columns)
        screen.set_margins()

    def picture(self) -> Picture:
        screen = self.screen
        # Scrolling back shows old rows at today's width, as the screen does.
        rows = [_row(line, screen.columns) for line in screen.history.top]
        rows += [_row(screen.buffer[y], screen.columns) for y in range(screen.lines)]
        while rows and not rows[-1]:
            rows.pop()
        return Picture(rows, (screen.cursor.x, screen.cursor.y))


def replay(data: bytes | str, columns: int, lines: int) -> Picture:
    """What ``data`` looks like on a fresh terminal of that size."""
    terminal = Terminal(columns, lines)
    terminal.feed(data.encode() if isinstance(data, str) else data)
    return terminal.picture()


def _set_size(fd: int, columns: int, lines: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))


def _read_available(fd: int, wait: float) -> bytes:
    chunks = []
    while True:
        ready, _, _ = select.select([fd], [], [], wait)
        if not ready:
            return b"".join(chunks)
        try:
            data = os.read(fd, 65536)
        except OSError:  # EIO: the child closed the terminal
            return b"".join(chunks)
        if not data:
            return b"".join(chunks)
        chunks.append(data)
        wait = 0.02


def _become_terminal_session() -> None:
    """In the child: the pty is its controlling terminal, and ^C interrupts it as in a shell.

    A test run started as a background job inherits SIGINT ignored, and so
    would the child; an interactive shell gives its commands the default.
    """
    fcntl.ioctl(1, termios.TIOCSCTTY, 0)
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run_on_pty(
    argv: Sequence[str],
    columns: int = 80,
    lines: int = 24,
    *,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
    resize_after: int | None = None,
    resize_to: tuple[int, int] | None = None,
    interrupt_after: int | None = None,
    interrupt_when: Callable[[bytes], bool] | None = None,
    timeout: float = 60.0,
) -> PtyRun:
    """Run ``argv`` with stdout and stderr on a pty of ``columns``×``lines``.

    ``stdin`` is piped when given (else the pty is stdin). ``resize_after``
    bytes of output, the window becomes ``resize_to``; ``interrupt_after``
    bytes, Ctrl-C is typed (the line discipline sends SIGINT to the
    foreground process group, as in a real terminal). ``interrupt_when`` is
    asked, with the output so far, every time output arrives and at least
    every 50 ms; the first time it says yes, Ctrl-C is typed. When Ctrl-C was
    typed and when the child closed the terminal are recorded
    (``time.monotonic()``), for tests that time what follows a Ctrl-C.
    """
    master, slave = os.openpty()
    _set_size(slave, columns, lines)
    full_env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "", "LINES": "", **(env or {})}
    full_env = {key: value for key, value in full_env.items() if value != ""}
    process = subprocess.Popen(
        list(argv),
        stdin=subprocess.PIPE if stdin is not None else slave,
        stdout=slave,
        stderr=slave,
        env=full_env,
        start_new_session=True,
        preexec_fn=_become_terminal_session,
        close_fds=True,
    )
    os.close(slave)
    if stdin is not None and process.stdin is not None:
        process.stdin.write(stdin.encode())
        process.stdin.close()
    terminal = Terminal(columns, lines)
    output = bytearray()
    deadline = time.monotonic() + timeout
    interrupted_at: float | None = None
    ended_at: float | None = None
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:
                    data = b""
                if not data:
                    ended_at = time.monotonic()
                    break
                output += data
                terminal.feed(data)
            elif process.poll() is not None:
                rest = _read_available(master, 0.05)
                output += rest
                terminal.feed(rest)
                ended_at = time.monotonic()
                break
            if resize_after is not None and len(output) >= resize_after and resize_to:
                resize_after = None
                _resize(process, master, terminal, output, resize_to)
            if interrupt_after is not None and len(output) >= interrupt_after:
                interrupt_after = None
                interrupted_at = time.monotonic()
                os.write(master, b"\x03")
            if interrupt_when is not None and interrupt_when(bytes(output)):
                interrupt_when = None
                interrupted_at = time.monotonic()
                os.write(master, b"\x03")
        else:
            process.kill()
            tail = bytes(output)[-400:]
            raise TimeoutError(f"{argv} did not finish in {timeout} s; output so far: {tail!r}")
        returncode = process.wait(timeout=10)
    finally:
        os.close(master)
    return PtyRun(
        bytes(output), returncode, terminal.picture(), interrupted_at=interrupted_at, ended_at=ended_at
    )


def _resize(
    process: subprocess.Popen, master: int, terminal: Terminal, output: bytearray, size: tuple[int, int]
) -> None:
    """Resize between two writes of the child: stop it, drain, resize, continue."""
    process.send_signal(signal.SIGSTOP)
    rest = _read_available(master, 0.1)
    output += rest
    terminal.feed(rest)
    columns, lines = size
    terminal.resize(columns, lines)
    _set_size(master, columns, lines)
    process.send_signal(signal.SIGWINCH)
    process.send_signal(signal.SIGCONT)


def kagura_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "kagura_magic", *args]
