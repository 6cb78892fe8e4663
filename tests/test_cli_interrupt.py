"""Ctrl-C in the CLI closes the provider's connection at once, keeps the answer and exits 130.

The real CLI runs on a pty (``tests/pty_harness.py``) against the local
server (``tests/openai_server.py``), which notes when the client goes away;
the delay is from typing Ctrl-C into the terminal to that moment, on the
clock every process shares. Two places to press it: while the provider has
sent its headers but no token yet (``silent``), and mid-answer (``trickle``).
The bound here is generous (these machines are shared); the 100 ms one, over
50 trials each, is in ``tests/stress/test_cli_interrupt.py``.

Why a Ctrl-C used to wait (``kagura_magic/llm/_stream.py``, ``_loop.py``):
the I/O loop that must run the cancel was loading litellm's tokenizer, a
full cycle collection over what litellm's import built held the GIL (not
even the signal handler ran), and the close waited for the loop's current
step. The last three tests check each cause directly, so they fail every
time one comes back, not only when the timing is unlucky.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest

from tests.openai_server import OpenAIServer
from tests.pty_harness import PtyRun, kagura_argv, run_on_pty

pytestmark = pytest.mark.slow  # CLI processes that import litellm

PROMPT = " ".join(f"word{number}" for number in range(400))
"""What ``trickle`` echoes back, about 20 words a second: the answer is still coming when Ctrl-C lands."""

GENEROUS = 1.0  # seconds from Ctrl-C to the server seeing the close, on a shared, noisy machine


@dataclass(frozen=True)
class Trial:
    scenario: str
    run: PtyRun
    disconnect_delay: float | None  # seconds from Ctrl-C to the server seeing the close (None: never)
    exit_delay: float  # seconds from Ctrl-C to the process closing the terminal
    shown_before: str  # a word of the answer that was on screen before Ctrl-C ("" before any)


def interrupt_trial(server: OpenAIServer, scenario: str, number: int) -> Trial:
    """One CLI run against ``server``, Ctrl-C'd at a point that varies with ``number``.

    ``silent``: 0 to 0.4 s after the request reached the server (its headers are
    sent at once; the old delay was in the half second after them). ``trickle``:
    once the answer has reached ``word10`` to ``word50`` on screen.
    """
    requests, disconnects = len(server.requests), len(server.disconnect_times)
    after = (number % 5) * 0.1
    shown = f"word{10 + (number % 5) * 10}" if scenario == "trickle" else ""

    def now_is_the_time(output: bytes) -> bool:
        if scenario == "trickle":
            return shown.encode() in output
        with server.lock:
            arrived = server.arrivals[requests][1] if len(server.arrivals) > requests else None
        return arrived is not None and time.monotonic() >= arrived + after

    env = {"OPENAI_API_KEY": "sk-interrupt-test", "KAGURA_CONFIG": "/nonexistent/kagura.toml"}
    argv = kagura_argv("-m", f"openai/{scenario}", "--api-base", server.api_base, PROMPT)
    # Wide enough that the one line saying what happened is one row (the tty echoes "^C" before it).
    run = run_on_pty(argv, columns=120, env=env, interrupt_when=now_is_the_time, timeout=90)
    deadline = time.monotonic() + 2  # a close at exit reaches the server's thread a moment later
    while len(server.disconnect_times) <= disconnects and time.monotonic() < deadline:
        time.sleep(0.01)
    assert run.interrupted_at is not None and run.ended_at is not None, "Ctrl-C was never typed"
    closes = server.disconnect_times[disconnects:]
    delay = closes[0] - run.interrupted_at if closes else None
    return Trial(scenario, run, delay, run.ended_at - run.interrupted_at, shown)


def trials(scenarios: list[str], workers: int = 2) -> list[Trial]:
    """``interrupt_trial`` for each scenario in turn, ``workers`` at a time, each on its own server.

    One server per worker, one run at a time on each: every close a server sees is its current run's.
    """
    servers = [OpenAIServer().start() for _ in range(workers)]
    for server in servers:
        server.stall_seconds = 60.0  # silent until the client leaves
        server.slow_delay = 0.05

    def lane(index: int) -> list[Trial]:
        mine = range(index, len(scenarios), workers)
        return [interrupt_trial(servers[index], scenarios[number], number) for number in mine]

    try:
        with ThreadPoolExecutor(workers) as pool:
            lanes = list(pool.map(lane, range(workers)))
    finally:
        for server in servers:
            server.stop()
    return [trial for lane_trials in lanes for trial in lane_trials]


def check_ending(trial: Trial) -> None:
    """Exit 130, what was shown is still on screen, and one short last line says it was interrupted."""
    lines = [line for line in trial.run.picture.lines if line.strip()]
    assert trial.run.returncode == 130, lines[-3:]
    said = [line for line in lines if "nterrupted" in line]
    assert len(said) == 1 and said[0] == lines[-1] and len(said[0].removeprefix("^C")) <= 100, lines[-3:]
    if trial.shown_before:
        assert any(trial.shown_before in line for line in lines[:-1]), "the partial answer was not kept"
        assert "partial answer is kept" in said[0]
    else:
        assert "before any answer arrived" in said[0]


@pytest.fixture(scope="module")
def few_trials() -> Iterator[list[Trial]]:
    yield trials(["silent", "trickle", "silent", "trickle", "silent", "trickle"])


def test_ctrl_c_closes_the_connection_and_keeps_the_answer(few_trials: list[Trial]) -> None:
    for trial in few_trials:
        check_ending(trial)
        assert trial.disconnect_delay is not None, f"{trial.scenario}: the server never saw the close"
        assert trial.disconnect_delay < GENEROUS, (
            f"{trial.scenario}: the connection closed {trial.disconnect_delay:.3f} s after Ctrl-C"
        )


def test_the_connection_closes_before_the_process_exits(few_trials: list[Trial]) -> None:
    """Closed by the cancel, not by the process ending (which closes every socket anyway)."""
    for trial in few_trials:
        assert trial.disconnect_delay is not None and trial.disconnect_delay < trial.exit_delay


_TOKENIZER_MODULES = ("tiktoken", "litellm.litellm_core_utils.default_encoding")
_PROBE = """
import atexit, gc, json, sys, threading
on_loop = []
def note(event, args):
    if event == "import" and threading.current_thread().name == "kagura-io":
        on_loop.append(args[0])
sys.addaudithook(note)
def report():
    seen = {"on_loop": on_loop, "walked": len(gc.get_objects()), "frozen": gc.get_freeze_count()}
    print("probe:", json.dumps(seen), file=sys.stderr)
atexit.register(report)
from kagura_magic.__main__ import main
main()
"""


@pytest.fixture(scope="module")
def probed(_server: OpenAIServer) -> dict[str, Any]:
    """One CLI answer with a probe: what the I/O loop imported, and what a full collection walks."""
    env = {**os.environ, "OPENAI_API_KEY": "sk-interrupt-test"}
    argv = [sys.executable, "-c", _PROBE, "-m", "openai/ok", "--api-base", _server.api_base, "hi"]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0 and result.stdout == "hi\n", result.stderr[-2000:]
    line = next(line for line in result.stderr.splitlines() if line.startswith("probe: "))
    seen: dict[str, Any] = json.loads(line.removeprefix("probe: "))
    return seen


def test_litellm_and_its_tokenizer_are_loaded_off_the_io_loop(probed: dict[str, Any]) -> None:
    """The seconds of litellm's import and the tokenizer it prices the prompt with, never on the loop.

    While the loop runs them it cannot run a cancel: a Ctrl-C right after the
    response headers waited for the tokenizer with the connection open.
    """
    slow = [name for name in probed["on_loop"] if name == "litellm" or name.startswith(_TOKENIZER_MODULES)]
    assert not slow, f"imported on the I/O loop: {slow}"


def test_a_full_collection_does_not_walk_what_litellm_built(probed: dict[str, Any]) -> None:
    """What litellm's import built is frozen out of the cycle collector.

    Otherwise a full collection walks it all, 250-320 ms with the GIL held, and
    one fell right after the response headers: not even the main thread's
    signal handler could run, so a Ctrl-C waited with the connection open.
    """
    assert probed["walked"] < probed["frozen"], probed


@pytest.mark.usefixtures("sigint_raises")
def test_ctrl_c_cuts_the_connection_while_the_io_loop_is_busy(openai_server: OpenAIServer) -> None:
    """The close does not wait for the loop: Ctrl-C shuts the socket down from the main thread.

    litellm's first request does pure-Python work on the loop right after the
    headers; here the loop is kept busy for 2 s instead, and the provider must
    still see the client leave well before that.
    """
    from kagura_magic import llm
    from tests.openai_server import local_config

    openai_server.stall_seconds = 30.0
    busy, interrupted, earlier = 2.0, [], len(openai_server.disconnect_times)
    main = threading.main_thread().ident
    assert main is not None

    def block_the_loop_then_interrupt() -> None:
        deadline = time.monotonic() + 60
        while not openai_server.requests and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.3)  # litellm has the headers and waits for the first chunk
        llm.io_loop().call_soon_threadsafe(time.sleep, busy)
        time.sleep(0.1)
        interrupted.append(time.monotonic())
        signal.pthread_kill(main, signal.SIGINT)

    threading.Thread(target=block_the_loop_then_interrupt, daemon=True).start()
    stream = llm.call_llm_stream("anything", local_config(openai_server, "silent"))
    with pytest.raises(KeyboardInterrupt):
        next(iter(stream))
    assert openai_server.disconnected.wait(busy), "the connection stayed open while the loop was busy"
    delay = openai_server.disconnect_times[earlier] - interrupted[0]
    assert delay < busy / 2, f"the server saw the close {delay:.2f} s after Ctrl-C"


def test_a_finished_streams_connection_is_kept_alive_not_cut(openai_server: OpenAIServer) -> None:
    """Closing a stream that ended cuts nothing: its connection may already serve the next request."""
    from kagura_magic import llm
    from tests.openai_server import local_config

    before = openai_server.connections_opened
    for _ in range(3):
        with llm.call_llm_stream("hello again", local_config(openai_server, "ok")) as stream:
            assert "".join(stream) == "hello again"
    assert openai_server.connections_opened - before <= 1, "each request needed a new connection"
