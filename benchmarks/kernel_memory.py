"""Kernel memory over many ``%%agent`` cells: does a settled answer leave anything behind?

    .venv/bin/python benchmarks/kernel_memory.py [--cells 200]

In one kernel: a few warm-up cells, then ``--cells`` ``%%agent`` cells (a
realistic answer from ``demo/echo`` at full speed, widget view, no history),
then as many baseline cells that display the same answer's HTML with plain
``IPython.display`` (no widgets, no stream). It prints the kernel's resident
memory after each quarter, the growth per cell of both, their ratio, and the
widget models still open. Target (issue 20): RSS over 200 cells flat within
2 MB after the first; no widget model left open.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.answers import realistic_answer  # noqa: E402
from tests.kernel_client import Kernel  # noqa: E402

RSS = "print(int(open('/proc/self/statm').read().split()[1]) * __import__('os').sysconf('SC_PAGE_SIZE'))"
OPEN_WIDGETS = "from ipywidgets.widgets.widget import _instances; print(len(_instances))"
AGENT = "get_ipython().run_cell_magic('agent', '-m demo/echo --param tokens_per_second=0 --no-history', _a)"
BASELINE = (
    "from IPython.display import HTML, display\n"
    "from kagura_magic.markdown import render\n"
    "display(HTML(render(_a)))"
)


def rss(kernel: Kernel) -> int:
    return int(kernel.execute(RSS).stdout)


def run_cells(kernel: Kernel, code: str, cells: int, label: str) -> list[int]:
    """Run ``code`` ``cells`` times; the RSS before and after each quarter."""
    points = [rss(kernel)]
    quarter = max(1, cells // 4)
    for n in range(1, cells + 1):
        run = kernel.execute(code)
        if run.status != "ok":
            raise SystemExit(f"{label} cell {n} failed: {run.error}")
        if n % quarter == 0 or n == cells:
            points.append(rss(kernel))
    return points


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=200)
    parser.add_argument("--size", type=int, default=4000, help="answer length in characters")
    args = parser.parse_args()
    kernel = Kernel()
    try:
        kernel.execute("%load_ext kagura_magic")
        kernel.execute(f"_a = {realistic_answer(args.size)!r}")
        for _ in range(10):  # first-use costs: imports, caches, lexers
            kernel.execute(AGENT)
            kernel.execute(BASELINE)
        agent = run_cells(kernel, AGENT, args.cells, "%%agent")
        widgets_open = int(kernel.execute(OPEN_WIDGETS).stdout)
        baseline = run_cells(kernel, BASELINE, args.cells, "baseline")
    finally:
        kernel.shutdown()
    mib = 1024 * 1024
    agent_growth = agent[-1] - agent[0]
    baseline_growth = baseline[-1] - baseline[0]
    print(f"{args.cells} cells each, answer of {args.size} characters")
    print("%%agent RSS (MiB):  " + " → ".join(f"{p / mib:.1f}" for p in agent))
    print("baseline RSS (MiB): " + " → ".join(f"{p / mib:.1f}" for p in baseline))
    for label, growth in (("%%agent growth: ", agent_growth), ("baseline growth:", baseline_growth)):
        print(f"{label} {growth / mib:+.2f} MiB ({growth / args.cells / 1024:+.1f} KiB/cell)")
    ratio = agent_growth / baseline_growth if baseline_growth > 0 else float("nan")
    print(f"growth ratio %%agent / baseline: {ratio:.2f}")
    print(f"widget models open after the %%agent cells: {widgets_open}")
    ok = agent_growth <= 2 * mib and widgets_open == 0
    print("target (growth <= 2 MiB, no open widgets):", "met" if ok else "NOT met")


if __name__ == "__main__":
    main()
