"""``%%agent`` in a real JupyterLab, watched through headless Chromium (issue 5).

What a careful user checks by hand: the spinner, then an answer that grows and
never shows half-parsed Markdown; a settled answer that survives save, close,
reopen and a kernel restart; no model output can run script; the interrupt
button keeps the partial answer; and how it all looks, light and dark.
"""

from __future__ import annotations

import html
import itertools
import json
import re
import time
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from tests.browser.harness import LabPage

pytestmark = pytest.mark.browser

RESTART_CANCELLATION = re.compile(r"^Error: Canceled future for \w+ message before replies were done$")

STREAMING_ANSWER = r"""## Monthly sales at a glance

The file holds **1,204 orders** over *six months*; the `revenue` column is in euros.
See the [pandas user guide](https://pandas.pydata.org/docs/user_guide/index.html) for grouping.

| region | orders | revenue (€) |
|:-------|-------:|------------:|
| North  |    412 |      18,230 |
| South  |    388 |      16,904 |
| West   |    404 |      17,511 |

Group and sum with pandas:

```python
import pandas as pd


def by_region(df: pd.DataFrame) -> pd.Series:
    # total revenue per region, largest first
    totals = df.groupby("region")["revenue"].sum()
    return totals.sort_values(ascending=False)
```

Things to check next:

1. Missing values in `revenue`
2. Orders above the **99th percentile**
   - per region
   - per month
3. Duplicated order ids

The mean is $\bar{x} = \frac{1}{n}\sum_i x_i$ and the spread is

$$
\sigma = \sqrt{\frac{1}{n}\sum_{i=1}^{n} (x_i - \bar{x})^2}
$$

> Tip: keep the raw export untouched and work on a copy.

That is all for now.
"""

# Raw Markdown that must never be on screen unless the final answer shows it too.
RAW_MARKERS = ["**", "](", "|---", "|:--", "---|", "```", "~~~", "$$", "\\[", "\\(", "__"]

INTERRUPT_ANSWER = "\n\n".join(
    f"Paragraph {n}: the **quarterly** numbers keep rising while the costs stay flat, "
    f"so the margin grows a little every month and nobody has to worry yet."
    for n in range(1, 40)
)


def agent_cell(answer: str, tokens_per_second: float) -> str:
    return f"%%agent -m demo/echo --param tokens_per_second={tokens_per_second} --no-history\n{answer}"


def squash(text: str) -> str:
    """Text without any whitespace: the DOM's line breaks are layout, not content."""
    return re.sub(r"\s+", "", text)


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def visible_text(markup: str) -> str:
    parser = _Text()
    parser.feed(markup)
    parser.close()
    return html.unescape("".join(parser.parts))


def prefix_violations(frames: list[dict[str, Any]], final_text: str) -> list[str]:
    """The engine's prefix rule on DOM text: every frame reads as the start of the final text."""
    final = squash(final_text)
    problems = []
    for frame in frames:
        shown = squash(frame["text"])
        if not shown or final.startswith(shown):
            continue
        at = next((i for i, (a, b) in enumerate(zip(shown, final, strict=False)) if a != b), len(final))
        markers = [m for m in RAW_MARKERS if m in frame["text"] and m not in final_text]
        problems.append(
            f"t={frame['t']:.0f}ms differs at {at}: shown …{shown[max(0, at - 40) : at + 30]!r} "
            f"vs final …{final[max(0, at - 40) : at + 30]!r}" + (f" raw markers {markers}" if markers else "")
        )
    return problems


def settled_dom(lab: LabPage, index: int) -> dict[str, Any]:
    """What a user sees in a settled output area."""
    return lab.page.evaluate(
        """(i) => {
            const cell = document.querySelectorAll('.jp-Notebook .jp-Cell')[i];
            const out = cell.querySelector('.jp-OutputArea');
            const md = out.querySelector('div.kagura-md:not(.widget-vbox)') || out;
            const k = window.__kagura;
            const q = (s) => Array.from(md.querySelectorAll(s));
            return {
                text: k.readable(md),
                inner: out.innerText,
                tables: q('table').filter(k.visible).length,
                headerCells: q('table thead th').length,
                bodyRows: q('table tbody tr').length,
                codeBlocks: q('pre > code').filter(k.visible).length,
                highlighted: q('pre > code span[class]').length,
                strong: q('strong').filter(k.visible).length,
                em: q('em').length,
                inlineCode: q(':not(pre) > code').length,
                links: q('a[href]').map(a => a.getAttribute('href')),
                headings: q('h1, h2, h3').map(h => h.textContent.trim()),
                listItems: q('ul > li, ol > li').filter(k.visible).length,
                orderedLists: q('ol').length,
                blockquotes: q('blockquote').length,
                math: q('.math').length,
                typeset: q('.math mjx-container').length,
                displayMath: q('mjx-container[display="true"]').length,
                rawTex: q('.math').filter(m => !m.querySelector('mjx-container')).map(m => m.textContent),
                status: Array.from(out.querySelectorAll('.kagura-status')).filter(k.visible)
                             .map(e => e.innerText.trim()),
                notes: Array.from(out.querySelectorAll('.kagura-note')).filter(k.visible)
                             .map(e => e.innerText.trim()),
                widgets: out.querySelectorAll('.jupyter-widgets, .widget-htmlmath').length,
                widgetErrors: /Error displaying widget|Loading widget|model not found/i.test(out.innerText),
                trusted: !!out.querySelector('.jp-RenderedHTML.jp-mod-trusted div.kagura-md'),
                errors: Array.from(out.querySelectorAll('[data-mime-type="application/vnd.jupyter.stderr"]'))
                             .map(e => e.innerText.trim()),
            };
        }""",
        index,
    )


def assert_rich_answer(dom: dict[str, Any], where: str) -> None:
    assert dom["tables"] == 1 and dom["headerCells"] == 3 and dom["bodyRows"] == 3, (where, dom)
    assert dom["codeBlocks"] >= 1 and dom["highlighted"] >= 10, f"{where}: code not highlighted: {dom}"
    assert dom["strong"] >= 2, (where, dom)
    assert dom["em"] >= 1 and dom["inlineCode"] >= 2, (where, dom)
    assert "https://pandas.pydata.org/docs/user_guide/index.html" in dom["links"], (where, dom["links"])
    assert dom["headings"] == ["Monthly sales at a glance"], (where, dom["headings"])
    assert dom["listItems"] >= 5 and dom["orderedLists"] == 1, (where, dom)
    assert dom["blockquotes"] == 1, (where, dom)
    assert dom["math"] == 2 and dom["typeset"] == 2 and dom["displayMath"] == 1, f"{where}: math {dom}"
    assert not dom["widgetErrors"] and dom["widgets"] == 0, (
        f"{where}: widgets left behind: {dom['inner'][:300]}"
    )
    visible_raw = [m for m in RAW_MARKERS if m in dom["text"]]
    assert not visible_raw, f"{where}: raw Markdown visible: {visible_raw} in {dom['text'][:400]!r}"
    assert dom["trusted"], f"{where}: the answer is not shown as trusted rendered HTML"


# ----------------------------------------------------------------------------------
# 2. Streaming is visible (and 6: light-theme screenshots)


def test_answer_streams_visibly(lab: LabPage, screenshots: Path) -> None:
    lab.server.write_notebook("streaming.ipynb", ["%load_ext kagura_magic", agent_cell(STREAMING_ANSWER, 40)])
    lab.open("streaming.ipynb")
    lab.run_cell(0)
    lab.wait_cell_done(0)

    lab.start_sampler(1, every_ms=50)
    started = time.monotonic()
    lab.run_cell(1)
    # Mid-stream: the table and the start of the code block are on screen, the rest is not.
    lab.wait_live(1, ["table", "pre"])
    lab.screenshot(screenshots, "light-mid-stream")
    lab.screenshot(screenshots, "light-mid-stream-cell", index=1)
    lab.wait_settled(1, timeout=90_000)
    elapsed = time.monotonic() - started
    record = lab.stop_sampler()
    lab.wait_cell_done(1)
    lab.wait_typeset(1)
    lab.screenshot(screenshots, "light-settled")
    lab.screenshot(screenshots, "light-settled-cell", index=1)

    frames = record["frames"]
    (screenshots / "streaming-frames.json").write_text(json.dumps(record, indent=1, ensure_ascii=False))
    live = [f for f in frames if f["live"]]
    final = settled_dom(lab, 1)
    failures: list[str] = []

    def check(ok: object, message: str) -> None:
        if not ok:
            failures.append(message)

    check(len(frames) >= 40, f"only {len(frames)} samples in {elapsed:.1f} s")

    # The spinner shows before the first token and is gone with it.
    check(record["spinnerFirst"] is not None, "the spinner never appeared")
    check(record["textFirst"] is not None, "no answer text ever appeared in the live view")
    check(
        record["spinnerFirst"] is None
        or record["textFirst"] is None
        or record["spinnerFirst"] <= record["textFirst"],
        f"answer text appeared before the spinner: {record['spinnerFirst']} > {record['textFirst']}",
    )
    check(record["spinnerWithText"] == 0, "the spinner stayed on screen next to answer text")
    check(not [f for f in frames if f["spinner"] and f["text"]], "a frame shows spinner and text together")

    # The answer grows in many visible steps while it streams, and never shrinks.
    lengths = [len(squash(f["text"])) for f in live if f["text"]]
    check(len(set(lengths)) >= 25, f"the text grew in only {len(set(lengths))} steps: {sorted(set(lengths))}")
    shrinks = [(a, b) for a, b in itertools.pairwise(lengths) if b < a]
    check(not shrinks, f"visible text shrank while streaming (characters before, after): {shrinks[:5]}")
    check(
        any(f["live"] and "streaming" in f["status"] for f in frames),
        "no live status line (model · streaming · tokens) while streaming",
    )

    # No frame shows Markdown syntax, or anything else, that the final answer does not.
    problems = prefix_violations(frames, final["text"])
    # jupyterlab_widgets shows "Loading widget..." until the view renders: JupyterLab's, not ours.
    seen = [state for state in record["seen"] if state["text"].strip() != "Loading widget..."]
    between = prefix_violations(seen, final["text"])
    check(
        not between,
        f"{len(between)} of {len(seen)} DOM states (seen by a MutationObserver) are not a prefix "
        "of the final text:\n  " + "\n  ".join(between[:6]),
    )
    check(
        not problems,
        f"{len(problems)} of {len(frames)} frames are not a prefix of the final text:\n  "
        + "\n  ".join(problems[:6]),
    )

    # The settled DOM is the rich answer, and the status line says what ran.
    try:
        assert_rich_answer(final, "settled")
    except AssertionError as exc:
        failures.append(str(exc))
    check(final["status"] and "demo/echo" in final["status"][0], f"status line: {final['status']}")
    check(not final["notes"] and not final["errors"], f"notes or errors: {final['notes']} {final['errors']}")
    check(not lab.page_errors, f"errors in the page: {lab.page_errors}")
    assert not failures, "\n".join(failures)
    print(f"streamed in {elapsed:.1f} s, {len(frames)} samples, {len(set(lengths))} visible steps")


# ----------------------------------------------------------------------------------
# 3. Persistence (and 6: dark-theme screenshots)


def test_settled_answer_survives_save_reopen_and_restart(lab: LabPage, screenshots: Path) -> None:
    lab.server.write_notebook("persist.ipynb", ["%load_ext kagura_magic", agent_cell(STREAMING_ANSWER, 80)])
    lab.open("persist.ipynb")
    lab.set_theme("JupyterLab Dark")
    try:
        lab.run_cell(0)
        lab.wait_cell_done(0)
        lab.run_cell(1)
        lab.wait_live(1, ["table", "pre"])
        lab.screenshot(screenshots, "dark-mid-stream")
        lab.wait_settled(1, timeout=90_000)
        lab.wait_cell_done(1)
        lab.wait_typeset(1)
        lab.screenshot(screenshots, "dark-settled")
        lab.screenshot(screenshots, "dark-settled-cell", index=1)
        assert_rich_answer(settled_dom(lab, 1), "dark, settled")

        # Save with Ctrl+S: the file holds the static bundle, not a widget view.
        lab.select_cell(1)
        lab.save()
        saved = lab.server.read_notebook("persist.ipynb")
        outputs = saved.cells[1].outputs
        data = [o.get("data", {}) for o in outputs]
        assert any("kagura-md" in d.get("text/html", "") for d in data), outputs
        assert any(d.get("text/markdown", "").startswith("## Monthly sales") for d in data), outputs
        assert not any("application/vnd.jupyter.widget-view+json" in d for d in data), outputs

        # Close the tab, reopen from the file browser.
        lab.close_notebook()
        lab.reopen_notebook()
        lab.wait_settled(1)
        lab.wait_typeset(1)
        reopened = settled_dom(lab, 1)
        assert_rich_answer(reopened, "after close and reopen")
        assert reopened["status"], "the status line is gone after reopening"
        lab.screenshot(screenshots, "dark-reopened")

        # Restart the kernel (Kernel menu), close and reopen again.
        lab.restart_kernel()
        assert_rich_answer(settled_dom(lab, 1), "after kernel restart")
        lab.close_notebook()
        lab.reopen_notebook()
        lab.wait_settled(1)
        lab.wait_typeset(1)
        assert_rich_answer(settled_dom(lab, 1), "after kernel restart and reopen")
        # A restart makes JupyterLab cancel its own in-flight kernel requests
        # (e.g. ipykernel 7's create_subshell_request), which it reports as a
        # page error depending on timing; that is not about our output.
        errors = [e for e in lab.page_errors if not RESTART_CANCELLATION.search(e)]
        assert not errors, errors
    finally:
        lab.set_theme("JupyterLab Light")  # settings persist across pages of this server


# ----------------------------------------------------------------------------------
# 4. Script injection, live and after reload


def _xss_payloads() -> list[str]:
    try:
        from tests.xss_payloads import XSS_PAYLOADS
    except ImportError as exc:  # pragma: no cover - the shared collection is part of the repo
        pytest.fail(f"tests/xss_payloads.py is missing: {exc}")
    assert len(XSS_PAYLOADS) >= 30
    return list(XSS_PAYLOADS)


def test_no_script_runs_from_model_output(lab: LabPage, screenshots: Path) -> None:
    payloads = _xss_payloads()
    answer = "\n\n".join(f"Attempt {n}:\n\n{p}" for n, p in enumerate(payloads, 1))
    settled_each = (
        "from IPython.display import display\n"
        "from kagura_magic.views._bundle import static_bundle\n"
        "from kagura_magic.markdown import render\n"
        f"PAYLOADS = {payloads!r}\n"
        "for payload in PAYLOADS:\n"
        "    display(static_bundle(payload, render(payload), status='one payload'), raw=True)\n"
    )
    lab.server.write_notebook(
        "xss.ipynb",
        [
            "%load_ext kagura_magic\n%config AgentMagics.template = False",
            agent_cell(answer, 400),
            settled_each,
        ],
    )
    lab.open("xss.ipynb")
    assert lab.xss_fired() is None
    lab.run_cell(0)
    lab.wait_cell_done(0)

    lab.start_sampler(1, every_ms=50)
    lab.run_cell(1)
    lab.wait_settled(1, timeout=90_000)
    record = lab.stop_sampler()
    lab.wait_cell_done(1)
    lab.run_cell(2)
    lab.wait_cell_done(2)
    lab.page.wait_for_timeout(500)  # let onerror/onload handlers of any injected element have their chance

    live = [f for f in record["frames"] if f["live"] and f["text"]]
    assert len(live) >= 5, f"the payloads were not streamed live ({len(live)} live frames)"
    assert not [f for f in record["frames"] if f["danger"]], [
        f["danger"] for f in record["frames"] if f["danger"]
    ]

    def check(where: str) -> None:
        assert lab.xss_fired() is None, f"{where}: window.__xss_fired was set"
        assert not lab.dialogs, f"{where}: dialogs opened: {lab.dialogs}"
        bad = lab.dangerous_elements(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook")
        assert not bad, f"{where}: dangerous elements in the notebook:\n" + "\n".join(bad[:20])
        text = lab.output_area(1).inner_text()
        # The attempts are shown as text, not dropped: a reader can see what the model wrote.
        assert "<script>" in text and "Attempt 1:" in text and f"Attempt {len(payloads)}:" in text, text[:500]
        each = lab.output_area(2).inner_text()
        assert each.count("one payload") == len(payloads), f"{where}: not every payload rendered on its own"

    check("live")
    lab.screenshot(screenshots, "xss-settled-cell", index=1)
    lab.select_cell(1)
    lab.save()

    # A full page reload renders every output from the saved (and signed, so trusted) file.
    lab.page.reload(wait_until="domcontentloaded")
    lab.page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell", timeout=60_000)
    lab.wait_notebook_ready()
    lab.wait_settled(1)
    lab.page.wait_for_timeout(500)
    check("after reload")
    assert lab.page.evaluate(
        "() => !!document.querySelectorAll('.jp-Notebook .jp-Cell')[1]"
        ".querySelector('.jp-RenderedHTML.jp-mod-trusted div.kagura-md')"
    ), "after reload the answer is not rendered as trusted HTML, so this check proved less than it should"
    assert not lab.page_errors, lab.page_errors

    # The checks can see a real injection: this page runs inline handlers in an output area.
    lab.page.evaluate(
        """() => window.__kagura.output(1).insertAdjacentHTML(
                   'beforeend', '<img id="kagura-canary" src="x:" onerror="window.__xss_fired=1">')"""
    )
    lab.page.wait_for_function("() => window.__xss_fired === 1", timeout=5_000)
    assert any("onerror" in b for b in lab.dangerous_elements(".jp-Notebook")), "the canary was not detected"


# The saved text/markdown of cell i's settled answer, as the notebook model holds it.
JS_SAVED_MARKDOWN = r"""
(i) => { const cell = window.jupyterapp.shell.currentWidget.content.widgets[i];
         for (let k = 0; k < cell.model.outputs.length; k++) {
           const data = cell.model.outputs.get(k).data;
           if (data['text/markdown'] !== undefined) return data['text/markdown'];
         }
         return null; }
"""


def as_markdown_output(text: str) -> str:
    """A cell that shows ``text`` as a Markdown-only output: JupyterLab's Markdown renderer, trusted."""
    return f"from IPython.display import display\ndisplay({{'text/markdown': {text!r}}}, raw=True)"


def test_the_saved_markdown_runs_no_script_in_jupyterlabs_markdown_renderer(lab: LabPage) -> None:
    payloads = _xss_payloads()
    answer = "\n\n".join(f"Attempt {n}:\n\n{p}" for n, p in enumerate(payloads, 1))
    lab.server.write_notebook(
        "xss-md.ipynb",
        ["%load_ext kagura_magic\n%config AgentMagics.template = False", agent_cell(answer, 0)],
    )
    lab.open("xss-md.ipynb")
    lab.run_cell(0)
    lab.wait_cell_done(0)
    lab.run_cell(1)
    lab.wait_settled(1, timeout=60_000)
    lab.wait_cell_done(1)
    saved = lab.page.evaluate(JS_SAVED_MARKDOWN, 1)
    assert saved and "Attempt 1:" in saved, "the settled answer has no text/markdown"

    # Rendered by JupyterLab's Markdown renderer alone, as a frontend that prefers Markdown would.
    lab.server.write_notebook("xss-md-render.ipynb", [as_markdown_output(saved), as_markdown_output(answer)])
    lab.save()
    lab.close_notebook()
    lab.notebook = "xss-md-render.ipynb"
    lab.command("docmanager:open", {"path": lab.notebook})
    lab.wait_notebook_ready()
    lab.run_cell(0)
    lab.wait_cell_done(0)
    lab.page.wait_for_timeout(500)  # let any handler have its chance
    assert lab.page.evaluate("() => !!window.__kagura.output(0).querySelector('.jp-RenderedMarkdown')")
    assert lab.xss_fired() is None, "a handler in the saved Markdown fired"
    assert not lab.dialogs, lab.dialogs
    bad = lab.dangerous_elements(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook")
    assert not bad, "dangerous elements from the saved Markdown:\n" + "\n".join(bad[:20])
    shown = lab.output_area(0).inner_text()
    assert "<img src=x onerror=" in shown and f"Attempt {len(payloads)}:" in shown, shown[:300]

    # The check can fail: the raw answer as Markdown does run script in this renderer.
    lab.run_cell(1)
    lab.wait_cell_done(1)
    lab.page.wait_for_function("() => window.__xss_fired === 1", timeout=5_000)


# ----------------------------------------------------------------------------------
# 5. Interrupt from the UI


def test_interrupt_button_keeps_partial_answer(lab: LabPage, screenshots: Path) -> None:
    from kagura_magic.markdown import render

    full = squash(visible_text(render(INTERRUPT_ANSWER)))
    lab.server.write_notebook(
        "interrupt.ipynb",
        [
            "%load_ext kagura_magic",
            agent_cell(INTERRUPT_ANSWER, 10),
            'print("next cell ran")',
            "%%agent -m demo/story --param fail_after=200 --no-history\nTell me a story.",
        ],
    )
    lab.open("interrupt.ipynb")
    lab.run_cell(0)
    lab.wait_cell_done(0)
    lab.run_cell(1)
    lab.wait_text(1, 60)
    shown_before = squash(lab.facts(1)["text"])
    lab.screenshot(screenshots, "interrupt-mid-stream-cell", index=1)
    button = lab.interrupt_button()
    assert button.is_visible(), "no interrupt button in the notebook toolbar"
    clicked = time.monotonic()
    button.click()
    lab.wait_settled(1, timeout=20_000)
    lab.wait_cell_done(1, timeout=20_000)
    stopped_in = time.monotonic() - clicked
    lab.screenshot(screenshots, "interrupt-settled-cell", index=1)

    dom = settled_dom(lab, 1)
    partial = squash(dom["text"])
    assert partial.startswith(shown_before[: max(0, len(shown_before) - 8)]), (shown_before, partial)
    assert len(partial) >= len(shown_before) - 8, "the partial answer lost text that was on screen"
    assert full.startswith(partial) and len(partial) < len(full), (partial[-80:], full[:200])
    assert not dom["notes"], "said once, in the error line below the answer, not twice"
    assert any("Interrupted" in e for e in dom["errors"]), dom["errors"]
    assert all(len(e.splitlines()) <= 2 for e in dom["errors"]), (
        f"the error is longer than 2 lines: {dom['errors']}"
    )
    assert "Traceback" not in dom["inner"] and "KeyboardInterrupt" not in dom["inner"], dom["inner"][-500:]
    assert stopped_in < 10, f"the stream took {stopped_in:.1f} s to stop after the click"
    stop_line = error_line_look(lab, 1)
    assert stop_line["text"].startswith("Interrupted"), stop_line

    # The next cell runs; a real failure after it still looks like one.
    lab.run_cell(2)
    lab.wait_cell_done(2)
    assert "next cell ran" in lab.output_area(2).inner_text()
    lab.run_cell(3)
    lab.wait_cell_done(3)
    failure = error_line_look(lab, 3)
    assert "failed" in failure["text"].lower() or "error" in failure["text"].lower(), failure
    assert failure["background"] != TRANSPARENT, f"a failure keeps JupyterLab's error tint: {failure}"
    assert stop_line["background"] == TRANSPARENT, f"an interrupt reads as a stop, not a failure: {stop_line}"
    assert not lab.page_errors, lab.page_errors
    print(f"stopped {stopped_in:.2f} s after the click, partial answer {len(partial)}/{len(full)} characters")


TRANSPARENT = "rgba(0, 0, 0, 0)"


def error_line_look(lab: LabPage, index: int) -> dict[str, str]:
    """The cell's error output as drawn: its text and background colour."""
    return lab.page.evaluate(
        """(i) => { const out = window.__kagura.output(i);
                    const err = out.querySelector('[data-mime-type="application/vnd.jupyter.stderr"]');
                    if (!err) return {text: '', background: ''};
                    const background = getComputedStyle(err).backgroundColor;
                    return {text: err.innerText.trim(), background}; }""",
        index,
    )


# ----------------------------------------------------------------------------------
# 7. The live view lays out like the settled output (no jump when the answer settles)

# Boxes of the answer's top-level blocks, the status line and the output area,
# relative to the output area's top-left; keys are kind + rank ("p3", "pre1",
# "math1"). ``tail`` null: the settled answer. Otherwise the live view, once its
# open tail starts with ``tail`` (every earlier block frozen) and display math
# is typeset; null before that.
JS_BLOCK_BOXES = r"""
([i, tail]) => {
  const out = window.__kagura.output(i);
  if (!out) return null;
  const md = out.querySelector(tail === null ? 'div.kagura-md:not(.widget-vbox)' : '.kagura-md.widget-vbox');
  if (!md) return null;
  if (tail !== null) {
    const blocks = md.querySelectorAll('.widget-htmlmath');
    const last = blocks[blocks.length - 1];
    if (!last || !last.textContent.trim().startsWith(tail)) return null;
  }
  const maths = md.querySelectorAll('.math.display');
  if (Array.from(maths).some(m => !m.querySelector('mjx-container'))) return null;
  const origin = out.getBoundingClientRect();
  const box = (el, text) => {
    const r = el.getBoundingClientRect();
    return {x: r.left - origin.left, y: r.top - origin.top, w: r.width, h: r.height, text};
  };
  const boxes = {};
  const rank = {};
  const selector = 'h1, h2, h3, h4, h5, h6, hr, p, table, pre, ol, ul, blockquote, .math.display';
  for (const el of md.querySelectorAll(selector)) {
    if (el.parentElement.closest('li, blockquote, table, pre, .math')) continue;  // top-level blocks only
    const kind = el.matches('.math') ? 'math' : el.tagName.toLowerCase();
    rank[kind] = (rank[kind] || 0) + 1;
    boxes[kind + rank[kind]] = box(el, el.textContent.trim().slice(0, 24));
  }
  const status = out.querySelector('.kagura-status');
  if (status) boxes.status = box(status, 'status line');
  boxes.output = box(out, 'output area');
  return boxes;
}
"""

# Keeps the boxes of the last live frame whose open tail starts with ``tail``:
# a MutationObserver measures after every change, so no frame is missed however
# soon the answer settles after it.
JS_RECORD_LIVE_BOXES = (
    "([i, tail]) => {\n  const measure = "
    + JS_BLOCK_BOXES.strip()
    + """;
  const cell = document.querySelectorAll('.jp-Notebook .jp-Cell')[i];
  if (window.__kaguraLive) window.__kaguraLive.stop();
  const rec = window.__kaguraLive = {boxes: null, frames: 0};
  const observer = new MutationObserver(() => {
    const boxes = measure([i, tail]);
    if (boxes) { rec.boxes = boxes; rec.frames++; }
  });
  observer.observe(cell, {childList: true, subtree: true, characterData: true});
  rec.stop = () => observer.disconnect();
}"""
)


def record_live_boxes(lab: LabPage, index: int, tail: str) -> None:
    """Start keeping the live view's boxes (see ``JS_RECORD_LIVE_BOXES``); call before running the cell."""
    lab.page.evaluate(JS_RECORD_LIVE_BOXES, [index, tail])


def recorded_live_boxes(lab: LabPage) -> tuple[dict[str, Any] | None, int]:
    """The last recorded live boxes and how many frames matched; stops recording."""
    return lab.page.evaluate(
        "() => { const rec = window.__kaguraLive; rec.stop(); return [rec.boxes, rec.frames]; }"
    )


def settled_boxes(lab: LabPage, index: int) -> dict[str, Any]:
    return lab.page.evaluate(JS_BLOCK_BOXES, [index, None])


def layout_differences(live: dict[str, Any], settled: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Per box in both views: settled minus live, in px, for x, y, width and height."""
    return {
        key: {axis: round(settled[key][axis] - box[axis], 1) for axis in ("x", "y", "w", "h")}
        for key, box in live.items()
        if key in settled
    }


LAYOUT_TAIL = "That is all"  # the answer's last paragraph: still growing in the live view
FROZEN_BLOCKS = ["h21", "p1", "table1", "p2", "pre1", "p3", "ol1", "p4", "math1", "blockquote1"]


def test_live_view_lays_out_like_settled_output(lab: LabPage, screenshots: Path) -> None:
    """No jump when the answer settles: every frozen block is where the settled output puts it."""
    lab.server.write_notebook("layout.ipynb", ["%load_ext kagura_magic", agent_cell(STREAMING_ANSWER, 40)])
    lab.open("layout.ipynb")
    lab.run_cell(0)
    lab.wait_cell_done(0)
    try:
        # One answer, both themes: dark, then light from mid-stream on (layout is the same in both).
        lab.set_theme("JupyterLab Dark")
        record_live_boxes(lab, 1, LAYOUT_TAIL)
        lab.run_cell(1)
        lab.wait_live(1, ["table", "pre"])
        lab.screenshot(screenshots, "layout-dark-mid-stream-cell", index=1)
        lab.set_theme("JupyterLab Light")
        lab.screenshot(screenshots, "layout-light-mid-stream-cell", index=1)
        lab.wait_settled(1, timeout=60_000)
        lab.wait_cell_done(1)
        lab.wait_typeset(1)
        live, frames = recorded_live_boxes(lab)
        settled = settled_boxes(lab, 1)
        lab.screenshot(screenshots, "layout-light-settled-cell", index=1)
        lab.set_theme("JupyterLab Dark")
        lab.screenshot(screenshots, "layout-dark-settled-cell", index=1)
    finally:
        lab.set_theme("JupyterLab Light")  # settings persist across pages of this server

    assert live, f"no live frame had {LAYOUT_TAIL!r} as the open tail with its math typeset"
    assert all(key in live and key in settled for key in FROZEN_BLOCKS), (live, settled)
    diffs = layout_differences(live, settled)
    # The frozen blocks, and below the tail (complete in the last live frame) the
    # status line and the output area's height: nothing under the answer moves either.
    failures = []
    for key in [*FROZEN_BLOCKS, "status", "output"]:
        moved = {axis: d for axis, d in diffs.get(key, {}).items() if abs(d) > 3}
        if key not in diffs or moved:
            failures.append(f"{key} ({live.get(key, {}).get('text')!r}): {moved or 'missing'}")
    assert not failures, "the layout jumps when the answer settles (settled minus live, px):\n  " + (
        "\n  ".join(failures)
    )
    assert not lab.page_errors, lab.page_errors
    largest = max(abs(d) for box in diffs.values() for d in box.values())
    print(
        f"{frames} live frames had the last paragraph as the open tail; largest difference {largest:.1f} px"
    )
