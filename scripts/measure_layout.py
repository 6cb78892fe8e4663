"""Measure how far the live widget view of an answer sits from the settled output, per block.

    .venv/bin/python scripts/measure_layout.py                  # light theme
    .venv/bin/python scripts/measure_layout.py --theme dark     # or both: --theme light --theme dark
    .venv/bin/python scripts/measure_layout.py --dump p2 pre1   # styles from a block up to .kagura-md

Runs the browser tests' answer (tests/browser/test_jupyterlab.py) in a throwaway
JupyterLab with headless Chromium, records each top-level block's box relative
to the output area's top-left when the last paragraph is the open tail (every
earlier block a frozen HTMLMath widget), again once the answer has settled, and
prints settled minus live in px. The last paragraph is still growing live.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.browser.harness import JupyterLabServer, LabPage, launch_chromium  # noqa: E402
from tests.browser.test_jupyterlab import (  # noqa: E402
    LAYOUT_TAIL,
    STREAMING_ANSWER,
    agent_cell,
    layout_differences,
    record_live_boxes,
    recorded_live_boxes,
    settled_boxes,
)

THEMES = {"light": "JupyterLab Light", "dark": "JupyterLab Dark"}

# For --dump: the box model of a block (or the status line) and of its ancestors up to
# the answer's root (or the output area).
JS_CHAIN = r"""
([i, live, key]) => {
  const out = window.__kagura.output(i);
  const md = out.querySelector(live ? '.kagura-md.widget-vbox' : 'div.kagura-md:not(.widget-vbox)');
  const rank = {};
  let found = key === 'status' ? out.querySelector('.kagura-status') : null;
  const selector = 'h1, h2, h3, h4, h5, h6, hr, p, table, pre, ol, ul, blockquote, .math.display';
  for (const el of md.querySelectorAll(selector)) {
    if (el.parentElement.closest('li, blockquote, table, pre, .math')) continue;
    const kind = el.matches('.math') ? 'math' : el.tagName.toLowerCase();
    rank[kind] = (rank[kind] || 0) + 1;
    if (kind + rank[kind] === key) { found = el; break; }
  }
  const chain = [];
  for (let el = found; el; el = el.parentElement) {
    const s = getComputedStyle(el);
    const r = el.getBoundingClientRect();
    chain.push(`${el.tagName.toLowerCase()}.${Array.from(el.classList).join('.')} display=${s.display} `
      + `margin=${s.margin} padding=${s.padding} overflow=${s.overflow} w=${r.width.toFixed(1)} `
      + `y=${r.top.toFixed(1)} h=${r.height.toFixed(1)} font=${s.fontSize}/${s.lineHeight}`);
    if (el === md || el === out) break;
  }
  return chain;
}
"""


def run(
    lab: LabPage, theme: str, tokens_per_second: float, shots: Path | None, dump: list[str]
) -> dict[str, Any]:
    name = f"measure-{theme}.ipynb"
    lab.server.write_notebook(
        name, ["%load_ext kagura_magic", agent_cell(STREAMING_ANSWER, tokens_per_second)]
    )
    lab.open(name)
    lab.set_theme(THEMES[theme])
    lab.run_cell(0)
    lab.wait_cell_done(0)
    record_live_boxes(lab, 1, LAYOUT_TAIL)
    lab.run_cell(1)
    chains_live = {}
    if dump:  # the live view's styles, as soon as the last paragraph is the open tail
        lab.page.wait_for_function("() => !!window.__kaguraLive.boxes", polling="raf", timeout=60_000)
        chains_live = {key: lab.page.evaluate(JS_CHAIN, [1, True, key]) for key in dump}
    if shots:
        lab.wait_live(1, ["table", "pre"])
        lab.screenshot(shots, f"measure-{theme}-mid-stream-cell", index=1)
    lab.wait_settled(1, timeout=90_000)
    lab.wait_cell_done(1)
    lab.wait_typeset(1)
    live, frames = recorded_live_boxes(lab)
    if not live:
        raise SystemExit(f"{theme}: no live frame with {LAYOUT_TAIL!r} as the open tail was seen")
    print(f"{theme}: {frames} live frames with {LAYOUT_TAIL!r} as the open tail; the last one is compared")
    settled = settled_boxes(lab, 1)
    chains_settled = {key: lab.page.evaluate(JS_CHAIN, [1, False, key]) for key in dump}
    if shots:
        lab.screenshot(shots, f"measure-{theme}-settled-cell", index=1)
    return {"live": live, "settled": settled, "chains": (chains_live, chains_settled)}


def report(theme: str, result: dict[str, Any]) -> float:
    live, settled = result["live"], result["settled"]
    diffs = layout_differences(live, settled)
    print(f"\n== {theme}: settled minus live, px (last paragraph still growing live) ==")
    print(f"{'block':8} {'live y':>8} {'settled y':>10} {'dx':>7} {'dy':>7} {'dw':>7} {'dh':>7}  text")
    worst = 0.0
    for key, d in diffs.items():
        print(
            f"{key:8} {live[key]['y']:8.1f} {settled[key]['y']:10.1f} "
            f"{d['x']:7.1f} {d['y']:7.1f} {d['w']:7.1f} {d['h']:7.1f}  {live[key]['text']!r}"
        )
        if not live[key]["text"].startswith(LAYOUT_TAIL):
            worst = max(worst, abs(d["x"]), abs(d["y"]), abs(d["w"]), abs(d["h"]))
    only = sorted(set(live) ^ set(settled))
    if only:
        print(f"in one view only: {only}")
    print(f"largest difference of a frozen block: {worst:.1f} px")
    for label, chains in zip(("live", "settled"), result["chains"], strict=True):
        for key, chain in chains.items():
            print(f"\n-- {label} {key}, element first --")
            print("\n".join(chain))
    return worst


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--theme", action="append", choices=sorted(THEMES), help="light (default), dark")
    parser.add_argument("--tokens-per-second", type=float, default=40)
    parser.add_argument("--screenshots", type=Path, help="save cell screenshots into this folder")
    parser.add_argument("--dump", nargs="*", default=[], help="blocks (e.g. p2 pre1) to print styles of")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    server = JupyterLabServer().start()
    profile = tempfile.mkdtemp(prefix="kagura-chromium-")
    worst = 0.0
    try:
        with sync_playwright() as playwright:
            context = launch_chromium(playwright, profile)
            context.set_default_timeout(30_000)
            try:
                for theme in args.theme or ["light"]:
                    lab = LabPage(context.new_page(), server, f"measure-{theme}")
                    try:
                        result = run(lab, theme, args.tokens_per_second, args.screenshots, args.dump)
                    finally:
                        lab.page.close()
                        server.shutdown_kernels()
                    worst = max(worst, report(theme, result))
            finally:
                context.close()
    finally:
        server.stop()
        shutil.rmtree(profile, ignore_errors=True)
    return 0 if worst <= 2 else 1


if __name__ == "__main__":
    sys.exit(main())
