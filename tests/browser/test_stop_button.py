"""The Stop button in a real JupyterLab (issue 15, item 1).

The click must reach a kernel that is busy running the cell: JupyterLab sends
it as a comm message, which ipykernel routes on its shell channel thread
(``kagura_magic/views/_stop_button.py``). Reached from the keyboard, as a
user who does not use a mouse would, it stops the answer at once: the partial
answer stays, one line says it was stopped, the cell is not an error and the
next cell runs. The button sits on the status line, and nothing moves when
the answer settles and both go.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.browser.harness import LabPage

pytestmark = pytest.mark.browser

CELL = "%%agent -m demo/story --param tokens_per_second=25 --no-history\nTell me a story."

# Where the Stop button and the status line are, and what the answer shows, in cell i.
JS_LOOK = r"""
(i) => {
  const out = window.__kagura.output(i);
  const button = out && out.querySelector('button.kagura-stop');
  const status = out && out.querySelector('.kagura-status');
  if (!button || !status) return null;
  const b = button.getBoundingClientRect(), s = status.getBoundingClientRect();
  return {buttonHeight: b.height, buttonTop: b.top, buttonBottom: b.bottom, buttonLeft: b.left,
          statusTop: s.top, statusBottom: s.bottom, statusHeight: s.height, statusText: status.textContent,
          label: button.textContent.trim(), title: button.title, tabIndex: button.tabIndex};
}
"""


def test_stop_from_the_keyboard_keeps_the_answer_and_the_next_cell_runs(
    lab: LabPage, screenshots: Path
) -> None:
    lab.server.write_notebook("stop.ipynb", ["%load_ext kagura_magic", CELL, 'print("next cell ran")'])
    lab.open("stop.ipynb")
    lab.run_cell(0)
    lab.wait_cell_done(0)
    lab.run_cell(1)
    lab.wait_text(1, 200)
    lab.page.wait_for_function(
        f"() => {{ const m = ({JS_LOOK})(1); return m && m.statusText.includes('streaming'); }}",
        timeout=20_000,
        polling=50,
    )
    look = lab.page.evaluate(JS_LOOK, 1)
    lab.screenshot(screenshots, "stop-button-streaming", index=1)
    button = lab.output_area(1).get_by_role("button", name="Stop")
    assert button.is_visible(), "the Stop button has the accessible name Stop"
    assert look["label"] == "Stop" and look["title"], look
    assert look["tabIndex"] >= 0, "reachable with Tab"
    assert look["buttonHeight"] <= look["statusHeight"] + 2, f"taller than the status line: {look}"
    assert abs(look["buttonBottom"] - look["statusBottom"]) <= 2, f"not on the status line: {look}"

    before = lab.page.evaluate("(i) => window.__kagura.readable(window.__kagura.output(i))", 1)
    button.focus()
    pressed = time.monotonic()
    lab.page.keyboard.press("Enter")
    lab.wait_settled(1, timeout=10_000)
    lab.wait_cell_done(1, timeout=10_000)
    stopped_in = time.monotonic() - pressed
    lab.screenshot(screenshots, "stop-button-stopped", index=1)

    out = lab.output_area(1)
    shown = out.inner_text()
    assert stopped_in < 5, f"the answer took {stopped_in:.1f} s to stop after Enter"
    squashed, seen = " ".join(shown.split()), " ".join(before.split())
    assert squashed.startswith(seen[: len(seen) - 8]), ("what was on screen is kept", seen, squashed[:300])
    assert "Stopped after ~" in shown, shown[-300:]
    assert not out.locator('[data-mime-type="application/vnd.jupyter.stderr"]').count(), "not an error"
    assert not out.locator("button.kagura-stop").count(), "the button goes with the live view"
    assert "watched the ships go by" not in shown, "stopped before the story ended"

    lab.run_cell(2)
    lab.wait_cell_done(2)
    assert "next cell ran" in lab.output_area(2).inner_text()
    assert not lab.page_errors, lab.page_errors
