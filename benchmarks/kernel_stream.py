"""``%%agent`` in a real kernel: bytes on the wire, update rate, CPU, first-cell start cost.

    .venv/bin/python benchmarks/kernel_stream.py [--size 30000]

Streams a realistic ~30 KB answer with ``demo/echo`` at full speed through
``%%agent`` and, in the same kernel, through a naive view (one HTML widget
whose value is the whole re-rendered answer after every chunk). Bytes are the
serialized iopub messages a frontend receives for the cell (widget comm
messages and display messages). Then, in fresh kernels, the time from sending
the first ``%%agent`` cell right after ``%load_ext`` to the first token shown,
with and without the background warm-up.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.answers import realistic_answer  # noqa: E402
from kagura_magic.markdown import render  # noqa: E402
from tests.kernel_client import Execution, Kernel  # noqa: E402

VIEW_MESSAGES = ("comm_open", "comm_msg", "comm_close", "display_data", "update_display_data")

NAIVE_VIEW = """
import ipywidgets, time
from IPython.display import display
from kagura_magic.config import LLMConfig
from kagura_magic.llm import call_llm_stream
from kagura_magic.markdown import render
_w = ipywidgets.HTML()
display(_w)
_text = ""
for _piece in call_llm_stream(_answer, LLMConfig(model="demo/echo", extra={"tokens_per_second": 0})):
    _text += _piece
    _w.value = render(_text)
"""


def wire_bytes(execution: Execution) -> int:
    return sum(
        len(json.dumps({k: m[k] for k in ("header", "parent_header", "metadata", "content")}, default=str))
        for m in execution.messages
        if m["msg_type"] in VIEW_MESSAGES
    )


def update_rate(execution: Execution) -> tuple[int, float]:
    updates = [m for m in execution.widget_updates() if "value" in m["content"]["data"]["state"]]
    if len(updates) < 2:
        return len(updates), 0.0
    span = updates[-1]["received"] - updates[0]["received"]
    return len(updates), (len(updates) - 1) / span if span > 0 else float("inf")


def kernel_cpu(kernel: Kernel, code: str) -> tuple[Execution, float]:
    kernel.execute("import time as _t; _cpu0 = _t.process_time()")
    execution = kernel.execute(code, timeout=600)
    cpu = float(kernel.execute("print(_t.process_time() - _cpu0)").stdout)
    return execution, cpu


def streaming_comparison(size: int) -> None:
    answer = realistic_answer(size, seed=1)
    final_html = len(render(answer))
    kernel = Kernel()
    try:
        kernel.execute("%load_ext kagura_magic")
        kernel.execute(f"_answer = {answer!r}")
        kernel.execute("import kagura_magic.llm as _l; _l.warm_up()")
        ours, ours_cpu = kernel_cpu(
            kernel, f"%%agent -m demo/echo --param tokens_per_second=0 --no-history --no-template\n{answer}"
        )
        assert ours.status == "ok", ours.error
        naive, naive_cpu = kernel_cpu(kernel, NAIVE_VIEW)
        assert naive.status == "ok", naive.error
    finally:
        kernel.shutdown()
    ours_bytes, naive_bytes = wire_bytes(ours), wire_bytes(naive)
    ours_updates, ours_rate = update_rate(ours)
    naive_updates, naive_rate = update_rate(naive)
    print(f"answer: {len(answer):,} characters of Markdown, final HTML {final_html:,} bytes")
    print(f"{'':24}{'%%agent':>14}{'naive':>16}")
    print(f"{'bytes sent':24}{ours_bytes:>14,}{naive_bytes:>16,}")
    print(f"{'  x final HTML':24}{ours_bytes / final_html:>14.2f}{naive_bytes / final_html:>16.1f}")
    print(f"{'value updates':24}{ours_updates:>14,}{naive_updates:>16,}")
    print(f"{'updates per second':24}{ours_rate:>14.1f}{naive_rate:>16.1f}")
    print(f"{'kernel CPU (s)':24}{ours_cpu:>14.2f}{naive_cpu:>16.2f}")
    print(
        f"naive / ours bytes: {naive_bytes / ours_bytes:.1f}x  (target >= 20x; ours target <= 3x final HTML)"
    )


def first_token_shown(warm_up: bool, think_time: float) -> float:
    """Seconds from sending the first %%agent cell to the first answer text reaching the frontend."""
    kernel = Kernel()
    try:
        if not warm_up:
            kernel.execute("get_ipython().config.AgentMagics.warm_up = False")
        kernel.execute("%load_ext kagura_magic")
        time.sleep(think_time)  # the user types a prompt; the warm-up runs meanwhile
        sent = time.monotonic()
        shown: list[float] = []

        def on_message(message: dict) -> None:
            state = (message["content"].get("data") or {}).get("state") or {}
            if not shown and message["msg_type"] == "comm_msg" and "hello" in str(state.get("value", "")):
                shown.append(time.monotonic())

        kernel.execute(
            "%%agent -m demo/echo --param tokens_per_second=0 --no-history\nhello", on_message=on_message
        )
        return shown[0] - sent
    finally:
        kernel.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=30_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    streaming_comparison(args.size)
    print(
        "\nfirst %%agent cell after %load_ext: execute -> first token shown (median of", args.runs, "kernels)"
    )
    warm = statistics.median(first_token_shown(True, 4.0) for _ in range(args.runs)) * 1000
    cold = statistics.median(first_token_shown(False, 4.0) for _ in range(args.runs)) * 1000
    print(f"  with warm-up      {warm:8.0f} ms  (target < 100 ms)")
    print(f"  without warm-up   {cold:8.0f} ms")


if __name__ == "__main__":
    main()
