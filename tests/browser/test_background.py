"""Background answers in a real JupyterLab (issue 15, items 2 and 6).

``%%agent --bg`` returns at once; while its answer streams, the user runs
another cell, which answers at once and shows only its own output; the
background answer settles into its own cell's static output, and its Stop
button still works (the kernel's main thread is free, so the click arrives
the ordinary way too).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.browser.harness import LabPage

pytestmark = pytest.mark.browser

SLOW = "%%agent --bg -m demo/story --param tokens_per_second=25 --no-history -o slow\nTell me a story."
FAST = (
    "%%agent --bg -m demo/echo --param tokens_per_second=60 --no-history -o fast\n"
    "A short echo, in its own cell."
)


def test_a_cell_runs_while_background_answers_stream_into_their_own_cells(
    lab: LabPage, screenshots: Path
) -> None:
    lab.server.write_notebook(
        "background.ipynb", ["%load_ext kagura_magic", SLOW, FAST, 'print("meanwhile", 6 * 7)', "%agent wait"]
    )
    lab.open("background.ipynb")
    lab.run_cell(0)
    lab.wait_cell_done(0)
    started = time.monotonic()
    lab.run_cell(1)
    lab.wait_cell_done(1, timeout=10_000)
    lab.run_cell(2)
    lab.wait_cell_done(2, timeout=10_000)
    lab.run_cell(3)
    lab.wait_cell_done(3, timeout=10_000)
    ran_in = time.monotonic() - started
    assert "meanwhile 42" in lab.output_area(3).inner_text(), "the cell ran while the answers streamed"
    assert ran_in < 8, f"three cells took {ran_in:.1f} s: the background cells did not return at once"
    lab.wait_text(1, 60)
    lab.screenshot(screenshots, "background-streaming", index=1)
    assert lab.output_area(1).locator("button.kagura-stop").count() == 1, "a Stop button while it streams"

    lab.wait_settled(2, timeout=30_000)
    fast = lab.output_area(2).inner_text()
    assert "A short echo, in its own cell." in fast and "Lighthouse" not in fast, "no cross-talk"
    meanwhile = lab.output_area(3).inner_text()
    assert "Lighthouse" not in meanwhile and "short echo" not in meanwhile, "nothing landed in a later cell"

    # Stop the slow one with its own button: the kernel is idle, the click arrives as usual.
    lab.output_area(1).get_by_role("button", name="Stop").click()
    lab.wait_settled(1, timeout=10_000)
    slow = lab.output_area(1).inner_text()
    assert slow.startswith("The Lighthouse Keeper's Notebook") and "Stopped after ~" in slow, slow[-300:]
    assert "watched the ships go by" not in slow, "stopped before the end"
    lab.screenshot(screenshots, "background-stopped", index=1)
    lab.run_cell(4)
    lab.wait_cell_done(4)
    assert not lab.page_errors, lab.page_errors
