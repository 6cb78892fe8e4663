"""Tests for ``kagura_magic.views.terminal._output``: ``write_all``, every byte of a frame or none lost."""

from __future__ import annotations

import io
import signal
import sys

import pytest

from kagura_magic.views.terminal import write_all
from tests.pty_harness import run_on_pty


class _ShortWrites(io.RawIOBase):
    """A raw file that takes at most a few bytes per call, as a terminal does when a signal lands."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.calls = 0

    def writable(self) -> bool:
        return True

    def write(self, chunk: bytes) -> int | None:  # type: ignore[override]
        self.calls += 1
        if self.calls % 5 == 0:
            return None  # "would block": try again
        taken = bytes(chunk[:7])
        self.data += taken
        return len(taken)


def test_write_all_keeps_every_byte_of_short_writes() -> None:
    """``sys.stdout`` under ``PYTHONUNBUFFERED``: a text layer straight on the raw file."""
    raw = _ShortWrites()
    stream = io.TextIOWrapper(raw, encoding="utf-8", write_through=True)  # type: ignore[arg-type]
    frame = "\x1b[?2026h\r\x1b[3A\x1b[J" + "".join(f"row {i} — 表 😀\n" for i in range(40)) + "\x1b[?2026l"
    write_all(stream, frame)
    assert raw.data.decode() == frame and raw.calls > len(frame.encode()) // 7


class _CtrlCMidWrite(_ShortWrites):
    """Short writes, and Ctrl-C arrives during the third one."""

    def write(self, chunk: bytes) -> int | None:  # type: ignore[override]
        if self.calls == 2:
            signal.raise_signal(signal.SIGINT)
        return super().write(chunk)


@pytest.mark.usefixtures("sigint_raises")
def test_ctrl_c_mid_frame_comes_after_the_whole_frame() -> None:
    """A frame cut by Ctrl-C would leave the cursor rows away from where the view thinks it is."""
    raw = _CtrlCMidWrite()
    stream = io.TextIOWrapper(raw, encoding="utf-8", write_through=True)  # type: ignore[arg-type]
    frame = "".join(f"row {i}\n" for i in range(30))
    with pytest.raises(KeyboardInterrupt):
        write_all(stream, frame)
    assert raw.data.decode() == frame
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@pytest.mark.slow
def test_no_byte_lost_when_the_writer_is_stopped_mid_write() -> None:
    """A stop and continue mid-write (what a resize or Ctrl-Z then ``fg`` can do) loses nothing.

    The child writes faster than the terminal drains, so it is blocked inside a
    write when it is stopped; the kernel then returns a short count. With
    ``sys.stdout.write`` under ``PYTHONUNBUFFERED`` the rest of that frame is lost.
    """
    code = (
        "import sys, time\n"
        "from kagura_magic.views.terminal import write_all\n"
        "for f in range(300):\n"
        "    write_all(sys.stdout, ''.join(f'{f:04d}-{j:02d}:' + 'x' * 60 + '\\n' for j in range(30)))\n"
        "    time.sleep(0.002)\n"
    )
    run = run_on_pty([sys.executable, "-c", code], 80, 24, env={"PYTHONUNBUFFERED": "1"},
                     resize_after=30_000, resize_to=(100, 30))  # fmt: skip
    expected = "".join(f"{f:04d}-{j:02d}:" + "x" * 60 + "\n" for f in range(300) for j in range(30))
    assert run.returncode == 0
    assert run.output.decode().replace("\r\n", "\n") == expected
