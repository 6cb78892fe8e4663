"""What the live view showed that the settled output did not (issue 17, items 1, 4 and 6).

1. Dollar amounts typeset as math while streaming: every math element that
   ever appears while a price-heavy answer streams must be one the settled
   output typesets too (only what the engine marked as math), in JupyterLab
   and Notebook 7; the real math is typeset live and settled.
4. Tables never break words: in a narrow output area no cell breaks between
   two letters or digits, headers, inline code and short cells ("INC-2291",
   which used to wrap after its hyphen) stay on one line, and the wide table
   scrolls horizontally instead, live and settled. A long prose cell may wrap
   between words (the test prints where).
6. Heading anchors: an in-answer link jumps to its heading, live and settled,
   and a footnote's back-link is there while its note streams, so settling
   does not move the page.

The viewport is narrow in 4 only; Notebook 7 is skipped when ``notebook>=7``
is not installed.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kagura_magic.markdown._config import SHORT_CELL
from tests.browser.harness import (
    LabPage,
    NotebookServer,
    notebook7_missing,
    start_math_recorder,
    stop_math_recorder,
    table_word_splits,
)

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]

# Prices everywhere (two in a sentence, ranges in table cells, one after a
# heading), mixed with real inline and display math.
PRICE_ANSWER = r"""## Price check

Prices of $5 and $10 are typical; a bundle costs $25 and a refill $3.

| Plan  | Range     | Note              |
|-------|-----------|-------------------|
| Basic | $0–$90    | cheapest at $0    |
| Pro   | $100–$250 | from $100 a month |

The widget is $12 today and $15 tomorrow, so waiting costs $3 more.

Real math stays math: $x^2$ grows faster than $2x$ for $x > 2$.

$$\int_0^1 x\,dx$$

A shipment of 4 at $7 each is $28, and with tax $30; two at $9 and $11 make $20.
"""

# The TeX the engine marks in PRICE_ANSWER: all a user may ever see typeset.
PRICE_MATH = {r"x^2", r"2x", r"x > 2", r"\int_0^1 x\,dx"}


# Where the answer's first heading starts, relative to the output area.
JS_HEADING_TOP = r"""
(i) => { const out = window.__kagura.output(i);
         const h = out && out.querySelector('.kagura-md h2');
         return h ? h.getBoundingClientRect().top - out.getBoundingClientRect().top : null; }
"""


def agent_cell(answer: str, tokens_per_second: float) -> str:
    return f"%%agent -m demo/echo --param tokens_per_second={tokens_per_second} --no-history\n{answer}"


def _tex(entry: dict[str, Any]) -> str:
    """A math element's TeX without whitespace (the MathML's text when the TeX could not be read)."""
    return re.sub(r"\s+", "", entry["tex"] if entry["tex"] is not None else entry["mml"])


@pytest.fixture(scope="module")
def notebook7_server(_browser_requirements: None) -> Iterator[NotebookServer]:
    missing = notebook7_missing()
    if missing:
        pytest.skip(f"{missing}: Notebook 7 is not tested (pip install 'notebook>=7' to test it)")
    server = NotebookServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def notebook7(
    request: pytest.FixtureRequest, notebook7_server: NotebookServer, chromium: Any
) -> Iterator[LabPage]:
    """Like the ``lab`` fixture, on Notebook 7's notebook page."""
    page = chromium.new_page()
    workspace = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:40] + f"-{int(time.time())}"
    try:
        yield LabPage(page, notebook7_server, workspace)
    finally:
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            folder = Path(os.environ.get("KAGURA_SCREENSHOTS") or REPO / "out" / "screenshots")
            with contextlib.suppress(Exception):  # the page may be gone; the test's own error matters more
                folder.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(folder / f"FAILED-{workspace}.png"))
        page.close()
        notebook7_server.shutdown_kernels()


# ----------------------------------------------------------------------------------
# 1. Dollar amounts are never typeset live


def check_prices_never_typeset(lab: LabPage, screenshots: Path, name: str) -> None:
    lab.server.write_notebook(f"{name}.ipynb", ["%load_ext kagura_magic", agent_cell(PRICE_ANSWER, 60)])
    lab.open(f"{name}.ipynb")
    lab.run_cell(0)
    lab.wait_cell_done(0)

    errors_before = list(lab.page_errors)  # Notebook 7.6 may log one of its own while the page loads
    hooked = start_math_recorder(lab, 1)
    lab.run_cell(1)
    # Mid-stream: the table is frozen, the sentence with two prices after it is on screen.
    lab.page.wait_for_function(
        """(i) => { const out = window.__kagura.output(i);
                    return !!out && !!out.querySelector('.widget-htmlmath table')
                        && out.innerText.includes('tomorrow'); }""",
        arg=1,
        timeout=60_000,
        polling=50,
    )
    lab.screenshot(screenshots, f"{name}-mid-stream-cell", index=1)
    heading_live = lab.page.evaluate(JS_HEADING_TOP, 1)
    lab.wait_settled(1, timeout=60_000)
    lab.wait_cell_done(1)
    lab.wait_typeset(1)
    heading_settled = lab.page.evaluate(JS_HEADING_TOP, 1)
    lab.page.wait_for_timeout(100)  # one more frame for the recorder
    record = stop_math_recorder(lab)
    lab.screenshot(screenshots, f"{name}-settled-cell", index=1)

    math = record["math"]
    settled = [m for m in math if m["settled"]]
    live = [m for m in math if m["live"]]
    settled_tex = {_tex(m) for m in settled}
    expected = {re.sub(r"\s+", "", tex) for tex in PRICE_MATH}
    assert hooked and all(m["tex"] is not None for m in math), "the TeX of every math element was read"
    assert settled_tex == expected and all(m["marked"] for m in settled), (
        f"settled, exactly the engine's math is typeset: {[(m['tex'], m['context']) for m in settled]}"
    )
    bogus = [m for m in live if _tex(m) not in settled_tex or not m["marked"]]
    assert not bogus, (
        f"{len(bogus)} math elements shown live that the settled output does not typeset "
        f"({record['frames']} frames, {record['mutations']} DOM changes watched); [[…]] is the element:\n  "
        + "\n  ".join(f"t={m['t']:.0f} ms  {m['tex']!r}  in  {m['context']!r}" for m in bogus[:12])
    )
    live_tex = {_tex(m) for m in live}
    assert expected <= live_tex, f"the real math is typeset live too: missing {expected - live_tex}"
    assert record["frames"] >= 20, f"only {record['frames']} animation frames were watched"
    # The answer opens with a heading: live, its top margin is trimmed as settled (no jump).
    assert heading_live is not None and abs(heading_live - heading_settled) <= 3, (
        f"the heading's top is {heading_live} px into the output live, {heading_settled} px settled"
    )
    assert lab.page_errors == errors_before, lab.page_errors
    print(
        f"{name}: {len(live)} live math elements, all engine-marked; {record['frames']} frames, "
        f"{record['mutations']} DOM changes watched"
    )


def test_dollar_amounts_never_typeset_live_in_jupyterlab(lab: LabPage, screenshots: Path) -> None:
    check_prices_never_typeset(lab, screenshots, "prices-lab")


def test_dollar_amounts_never_typeset_live_in_notebook7(notebook7: LabPage, screenshots: Path) -> None:
    check_prices_never_typeset(notebook7, screenshots, "prices-notebook7")


# ----------------------------------------------------------------------------------
# 4. Tables never break words; wide tables scroll

# Short cells (ids, dates, names, one-word statuses) and one column of prose.
NOTES = (
    "Card authorisations failed for about forty minutes after a certificate rotation; "
    "retried automatically once the new chain was deployed."
)
INCIDENT_ANSWER = f"""Incidents this quarter:

| ID | Severity | Service | Opened | Owner | Status | Notes |
|----|----------|---------|--------|-------|--------|-------|
| INC-2291 | Critical | payments | January 14 | R. Okafor | Resolved | {NOTES} |
| INC-2304 | Moderate | search | February 2 | M. Lindqvist | Monitoring | Slow queries |
| INC-2317 | Low | `email-worker` | March 30 | A. Nakamura | Open | Bounces from one provider |

""" + " ".join(
    f"Follow-up {n}: the owners review the timeline, the alerts and the runbook together."
    for n in range(1, 9)
)

NARROW = {"width": 640, "height": 900}

# The table's box and what scrolling shows: its visible and scrollable widths,
# whether the last header is inside the table's box once scrolled to the end, and
# each header's height.
JS_TABLE_SCROLL = r"""
([index, selector]) => {
  const out = window.__kagura.output(index);
  const table = out && out.querySelector(selector);
  if (!table) return null;
  const before = table.scrollLeft;
  table.scrollLeft = table.scrollWidth;
  const last = table.querySelector('thead th:last-child').getBoundingClientRect();
  const box = table.getBoundingClientRect();
  const result = {
    client: table.clientWidth, scroll: table.scrollWidth, overflowX: getComputedStyle(table).overflowX,
    lastHeaderVisible: last.right <= box.right + 1 && last.left >= box.left - 1,
    outputWidth: out.getBoundingClientRect().width,
    headerHeights: Array.from(table.querySelectorAll('thead th'), th => th.getBoundingClientRect().height),
  };
  table.scrollLeft = before;
  return result;
}
"""


def check_table(lab: LabPage, where: str, scope: str) -> list[str]:
    """Problems with the incident table in ``scope`` (live widgets or settled HTML)."""
    problems = []
    splits = table_word_splits(lab, 1, f"{scope} table th, {scope} table td")
    inside_words = [s for s in splits if s["letters"]]
    if inside_words:
        problems.append(f"{where}: words broken inside: {[s['word'] for s in inside_words]}")
    headers = [s for s in splits if s["header"]]
    if headers:
        problems.append(f"{where}: headers on more than one line: {[s['word'] for s in headers]}")
    code = [s for s in splits if s["code"]]
    if code:
        problems.append(f"{where}: inline code in a cell broken across lines: {[s['word'] for s in code]}")
    scroll = lab.page.evaluate(JS_TABLE_SCROLL, [1, f"{scope} table"])
    assert scroll is not None, f"{where}: no table"
    if not scroll["scroll"] > scroll["client"]:
        problems.append(
            f"{where}: the table does not scroll in a {scroll['outputWidth']:.0f} px output: {scroll}"
        )
    elif scroll["overflowX"] not in ("auto", "scroll") or not scroll["lastHeaderVisible"]:
        problems.append(f"{where}: the table's last column cannot be scrolled into view: {scroll}")
    one_line = min(scroll["headerHeights"])
    if max(scroll["headerHeights"]) > one_line + 1 or one_line > 40:
        problems.append(f"{where}: header heights {scroll['headerHeights']} (one line is about 28 px)")
    others = [s for s in splits if not (s["letters"] or s["header"] or s["code"])]
    short = [s["word"] for s in others if len(s["cell"]) <= SHORT_CELL or " " not in s["cell"]]
    if short:
        problems.append(f"{where}: short cells wrapped: {short}")
    print(
        f"{where}: output {scroll['outputWidth']:.0f} px, table {scroll['client']} of {scroll['scroll']} px; "
        f"prose tokens wrapped after punctuation: {[s['word'] for s in others]}"
    )
    return problems


def test_tables_never_break_words_in_a_narrow_output(lab: LabPage, screenshots: Path) -> None:
    lab.page.set_viewport_size(NARROW)
    lab.server.write_notebook("tables.ipynb", ["%load_ext kagura_magic", agent_cell(INCIDENT_ANSWER, 60)])
    lab.open("tables.ipynb")
    lab.run_cell(0)
    lab.wait_cell_done(0)
    lab.run_cell(1)
    # Live: the table is a frozen block and the paragraph after it is still growing.
    lab.page.wait_for_function(
        """(i) => { const out = window.__kagura.output(i);
                    return !!out && !!out.querySelector('.widget-htmlmath table')
                        && out.innerText.includes('Follow-up 2'); }""",
        arg=1,
        timeout=60_000,
        polling=50,
    )
    live = check_table(lab, "live", ".kagura-md.widget-vbox .widget-htmlmath")
    lab.screenshot(screenshots, "tables-narrow-live-cell", index=1)
    lab.wait_settled(1, timeout=60_000)
    lab.wait_cell_done(1)
    settled = check_table(lab, "settled", "div.kagura-md:not(.widget-vbox)")
    lab.screenshot(screenshots, "tables-narrow-settled-cell", index=1)
    assert not live + settled, "\n".join(live + settled)
    assert not lab.page_errors, lab.page_errors


# 6. Heading anchors and footnote back-links

FILLER = "\n\n".join(
    f"Paragraph {n} of the setup section, long enough to push the end down." for n in range(30)
)
ANCHOR_ANSWER = f"""## Contents

1. [Setup](#1-setup)
2. [Comments and analytics](#6-comments-and-analytics)

## 1. Setup

{FILLER}

## 6. Comments and analytics

Comments are counted per page[^1].

[^1]: Counted once per visitor and page, over the last thirty days, with bots and internal
addresses left out, so the numbers match what the analytics dashboard reports each morning.
"""

SCROLLER = "document.querySelector('.jp-WindowedPanel-outer') || document.querySelector('.jp-Notebook')"

# Click an in-answer link in cell i's output; where its heading ends up, relative to the scroller's top.
JS_FOLLOW_LINK = (
    """([i, href]) => { const out = window.__kagura.output(i);
         const link = out.querySelector(`a[href="${href}"]`);
         if (!link) return null;
         const scroller = """
    + SCROLLER
    + """;
         link.scrollIntoView({block: 'center'});
         const before = scroller.scrollTop;
         link.click();
         const heading = document.getElementById(href.slice(1));
         const top = heading.getBoundingClientRect().top - scroller.getBoundingClientRect().top;
         return {before, after: scroller.scrollTop, headingTop: top, url: location.href}; }"""
)

# The footnote section's back-link and height in cell i's output.
JS_FOOTNOTES = r"""
(i) => { const out = window.__kagura.output(i);
         const section = out && out.querySelector('section.footnotes');
         if (!section) return null;
         return {backrefs: section.querySelectorAll('a.footnote-backref').length,
                 height: section.getBoundingClientRect().height}; }
"""


def test_in_answer_links_jump_and_footnotes_keep_their_back_link(lab: LabPage, screenshots: Path) -> None:
    lab.server.write_notebook("anchors.ipynb", ["%load_ext kagura_magic", agent_cell(ANCHOR_ANSWER, 150)])
    lab.open("anchors.ipynb")
    lab.run_cell(0)
    lab.wait_cell_done(0)
    lab.run_cell(1)
    # Live: once the note is streaming, its back-link is at its growing end.
    lab.page.wait_for_function(
        "(i) => { const o = window.__kagura.output(i); return !!o && o.innerText.includes('Counted once'); }",
        arg=1,
        timeout=60_000,
        polling=20,
    )
    live_notes = lab.page.evaluate(JS_FOOTNOTES, 1)
    assert live_notes and live_notes["backrefs"] == 1, f"no back-link while the note streams: {live_notes}"
    lab.page.wait_for_function(
        "(i) => window.__kagura.output(i).innerText.includes('each morning')",
        arg=1,
        timeout=60_000,
        polling=20,
    )
    before_settle = lab.page.evaluate(JS_FOOTNOTES, 1)
    lab.wait_settled(1, timeout=60_000)
    lab.wait_cell_done(1)
    settled_notes = lab.page.evaluate(JS_FOOTNOTES, 1)
    assert settled_notes["backrefs"] == 1
    assert abs(settled_notes["height"] - before_settle["height"]) <= 2, (
        f"the footnotes moved at settle: {before_settle} -> {settled_notes}"
    )

    jump = lab.page.evaluate(JS_FOLLOW_LINK, [1, "#kagura-6-comments-and-analytics"])
    assert jump is not None, "the contents link is missing"
    lab.screenshot(screenshots, "anchor-jump", index=None)
    assert jump["after"] > jump["before"] + 300, f"the link did not scroll the notebook: {jump}"
    assert 0 <= jump["headingTop"] < 200, f"the heading is not at the top after the jump: {jump}"
    assert "/lab/" in jump["url"], f"the page navigated away: {jump}"
    assert not lab.page_errors, lab.page_errors
