"""CLI Ctrl-C closes the provider's connection within 100 ms, 50 of 50 times, before and mid-answer.

The trials of ``tests/test_cli_interrupt.py`` (the real CLI on a pty, the
local server noting the close), 50 Ctrl-Cs while the provider is silent
after its headers and 50 mid-answer, each checked like there (exit 130, the
answer kept, one line saying so). The delay, from typing Ctrl-C to the
server seeing the connection close, was 100 ms or more in 46 of 50 trials
of the first case (median 0.32 s, at most 0.6 s): the I/O loop was loading
litellm's tokenizer, and a full cycle collection held the GIL
(``kagura_magic/llm/_stream.py``). With both fixed, a few in 50 still took
100-170 ms on a loaded machine: the loop finished litellm's first-use work
before it ran the cancel. Now Ctrl-C shuts the socket down from the main
thread without waiting for the loop (``kagura_magic/llm/_loop.py``), and
issue 20's bound holds: 100 ms, 50 of 50 in each case. A rare slow case
needs many runs to show, so this runs in CI's own step:
``KAGURA_STRESS=1 pytest tests/stress``.
"""

from __future__ import annotations

import os
import statistics

import pytest

from tests.test_cli_interrupt import Trial, check_ending, trials

TRIALS = 50  # of each scenario
TARGET = 0.1  # seconds from Ctrl-C to the server seeing the close: issue 20's bound, for every trial
EXIT_LIMIT = 2.0  # seconds from Ctrl-C to the exit (0.15-0.5 s here; it was about 2 s)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not os.environ.get("KAGURA_STRESS"),
        reason="Ctrl-C loops run in CI's own step: KAGURA_STRESS=1 pytest tests/stress",
    ),
]


def _milliseconds(values: list[float]) -> str:
    return f"median {statistics.median(values) * 1000:.0f} ms, max {max(values) * 1000:.0f} ms"


def _delays(trials: list[Trial]) -> list[float]:
    never = float("inf")  # the server never saw the close
    return [never if trial.disconnect_delay is None else trial.disconnect_delay for trial in trials]


def test_ctrl_c_closes_the_connection_within_100_ms(capsys: pytest.CaptureFixture[str]) -> None:
    runs = trials(["silent", "trickle"] * TRIALS)
    by_scenario = {
        scenario: [trial for trial in runs if trial.scenario == scenario]
        for scenario in ("silent", "trickle")
    }
    with capsys.disabled():
        for scenario, mine in by_scenario.items():
            delays, exits = _delays(mine), [trial.exit_delay for trial in mine]
            slow = sum(delay >= TARGET for delay in delays)
            print(
                f"\n{scenario}: {len(mine)} Ctrl-Cs; connection closed {_milliseconds(delays)} after Ctrl-C, "
                f"{slow} at {TARGET * 1000:.0f} ms or later; process exited {_milliseconds(exits)} after it"
            )
    for scenario, mine in by_scenario.items():
        late = [delay for delay in _delays(mine) if delay >= TARGET]
        assert not late, (
            f"{scenario}: {len(late)} of {len(mine)} closes took {TARGET * 1000:.0f} ms or more: {late}"
        )
        slowest = max(trial.exit_delay for trial in mine)
        assert slowest < EXIT_LIMIT, f"{scenario}: a run exited {slowest:.1f} s after Ctrl-C"
        for trial in mine:
            check_ending(trial)
