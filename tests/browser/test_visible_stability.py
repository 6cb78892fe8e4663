"""Is every painted frame of a streaming answer a beginning of the settled answer? (issue 15, item 5)

A user watching an answer stream reads it as it grows. If a frame shows text
that the settled answer does not start with -- a ``|`` of a table still being
typed, TeX source before MathJax typesets it, a list numbered differently --
the text the user was reading changes under their eyes. This test streams a
long, realistic answer (headings, lists, a table, inline and display math,
fenced code in five languages, links, bold and italic) at 40 tokens/s through
``demo/echo`` in JupyterLab in headless Chromium and reads the output area's
*visible* text on every animation frame (a ``requestAnimationFrame`` loop in
the page), then reads the settled answer the same way once it is typeset.

Visible text, as a user sees it (``JS_VISIBLE`` below): every rendered text
node of the cell's output area, in document order, with a space at each
block boundary and whitespace runs folded to one space; typeset math as the
glyphs MathJax paints (the CSS ``::before`` content of its ``mjx-c`` nodes,
not the TeX and not the hidden assistive MathML); an ordered list item's
number, which the browser paints as a marker; no ``display: none`` or
``visibility: hidden`` text. Left out, as the issue asks: the spinner, the
status line and the Stop button (``.kagura-spinner``, ``.kagura-status*``,
``.kagura-stop``), and the output prompt. Anything else in the output area
counts, JupyterLab's "Loading widget..." placeholder included.

A frame passes when its visible text is a prefix of the settled visible text.
A prefix check already allows the open tail to end mid-word or mid-number, so
nothing is excused beyond that. Which frames count:

- from the first frame that shows any answer text (inside ``.kagura-md``):
  earlier frames show only the spinner (left out by definition) or
  JupyterLab's placeholder before the widget view renders; with no answer on
  screen the question "is this the start of the answer" has no content, and
  counting them (trivially true as empty text) would only pad the share;
- up to and including the first frame that shows the static output (not the
  widgets) with exactly the settled text. Frames after that are the static
  output at rest: their number depends only on how long the test waits (the
  test prints how many of them differ, which should be none). Frames between
  the widgets going and the static output being typeset *do* count (TeX
  source flashing back would be a real disagreement).

Frames that become shorter than the frame before, or blank, are prefixes and
pass, but the test prints how many there were. The test prints the share, the
frame counts, and for each failing frame why it disagrees (first differing
position, the kind of element there, frame text vs settled text around it),
grouped into causes, and asserts a share of at least 0.99.
"""

from __future__ import annotations

import itertools
import json
import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest

from tests.browser.harness import LabPage

pytestmark = pytest.mark.browser

TOKENS_PER_SECOND = 40
REQUIRED_SHARE = 0.99

# About 3,500 characters: ~22 s at 40 tokens/s of ~4 characters. No "{{", "{%" (templating).
ANSWER = r"""# Rolling out the new ingest pipeline

This note sums up **what changed**, *why it matters* and how to check it yourself. The design
document is on [the wiki](https://example.org/wiki/ingest) and the dashboards are in
[Grafana](https://grafana.example.org/d/ingest); ask in `#data-platform` if anything is unclear.

## What changed

- Batches are now **compressed** with `zstd` before upload
- The retry policy uses *exponential backoff* with jitter
- Failed records go to a dead-letter queue instead of being dropped
  - one queue per source
  - kept for **seven days**, then archived

## Throughput

| Stage    | Before (rec/s) | After (rec/s) | Change |
|:---------|---------------:|--------------:|-------:|
| Parse    |         12,400 |        15,900 |   +28% |
| Validate |          9,800 |        14,100 |   +44% |
| Upload   |          6,200 |        11,700 |   +89% |

The delay after the $k$-th failure is $d_k = \min(d_{\max}, d_0 \cdot 2^k)$ plus a uniform
jitter $u \in [0, j]$, so the expected wait is

$$
E[d_k] = d_0 \cdot 2^k + \frac{j}{2}
$$

and the total over $n$ retries stays below \(n \, d_{\max}\) however the jitter falls.

## Configuration

Set the new options in `ingest.toml`:

```toml
[upload]
compression = "zstd"
level = 3
max_retries = 6
```

Then restart the workers and count the errors of the last ten minutes:

```bash
sudo systemctl restart 'ingest-worker@*.service'
journalctl -u 'ingest-worker@*' --since "10 min ago" | grep -c ERROR
```

A batch summary in the log looks like this:

```json
{"batch": 4711, "records": 5000, "bytes": 1843200, "compressed": true}
```

## Checking the results

1. Compare the record counts per source with yesterday's:

   ```sql
   SELECT source, count(*) AS records
   FROM events
   WHERE ingested_at > now() - interval '1 day'
   GROUP BY source
   ORDER BY records DESC;
   ```

2. Look for spikes in the dead-letter queue, *especially* right after a deploy.
3. Confirm that the **p99 latency** stayed under 250 ms.

A small Python helper computes the compression ratio of a batch:

```python
def ratio(raw: int, packed: int) -> float:
    # bytes saved, as a share of the raw size
    if raw == 0:
        return 0.0
    return 1 - packed / raw
```

and the same in the browser console, for a quick look at one response:

```javascript
const ratio = (raw, packed) => (raw === 0 ? 0 : 1 - packed / raw);
console.log(ratio(1843200, 614400).toFixed(3));
```

For the batch above the ratio is about $0.667$, which matches the model

\[
r = 1 - \frac{s_{\text{packed}}}{s_{\text{raw}}}
\]

> **Note:** the ratio drops for batches of already compressed images, so
> do not alert on it alone.

## Known issues

- Small batches (under $500$ records) are *not* worth compressing; the uploader skips them.
- The dead-letter queue has no size limit yet. Until it does:
  1. watch its length on the dashboard
  2. page the on-call engineer above $10^5$ records
- Retries of a batch keep its id, so downstream deduplication by `batch` still works.

### Next steps

1. Roll out to the *eu-west* region on Monday
2. Remove the old uploader after two quiet weeks
3. Write up the results for the [ops review](https://example.org/ops/review)

That is all for now: **thanks** to everyone who tested the _early builds_.
"""

# The text a user reads in a cell's output area, with where each run of it comes from.
JS_VISIBLE = r"""
(() => {
  const SKIP = 'style, script, template, .kagura-spinner, .kagura-status, .kagura-status-text, '
             + '.kagura-status-row, .kagura-stop, .jp-OutputPrompt, .jp-OutputArea-prompt, '
             + '.jp-OutputArea-promptOverlay, mjx-assistive-mml';
  const glyphCache = new WeakMap();
  function cssString(content) {
    if (!content || content === 'none' || content === 'normal') return '';
    const m = content.match(/^"((?:[^"\\]|\\.)*)"$/);
    return m ? m[1].replace(/\\(.)/g, '$1') : '';
  }
  // The glyphs MathJax paints: CHTML draws each character as its mjx-c's ::before content.
  function mathText(container) {
    const glyphs = Array.from(container.querySelectorAll('mjx-c, mjx-utext'))
      .filter(c => !c.closest('mjx-assistive-mml'));
    const cached = glyphCache.get(container);
    if (cached && cached.n === glyphs.length) return cached.text;
    let text = '';
    for (const c of glyphs) text += cssString(getComputedStyle(c, '::before').content) + c.textContent;
    if (!glyphs.length) {
      const mml = container.querySelector('mjx-assistive-mml, math');
      text = mml ? mml.textContent : '';
    }
    glyphCache.set(container, {n: glyphs.length, text});
    return text;
  }
  function olNumber(li) {
    const ol = li.parentElement;
    let n = ol.hasAttribute('start') ? ol.start : 1;
    for (const child of ol.children) {
      if (child.tagName !== 'LI') continue;
      if (child.hasAttribute('value')) n = child.value;
      if (child === li) return n;
      n++;
    }
    return n;
  }
  // {text, segs: [[offset, where, what]], untypeset, answer}
  function read(root) {
    const st = {out: '', space: true, segs: [], key: '', untypeset: 0, answer: 0};
    if (!root) return {text: '', segs: [], untypeset: 0, answer: 0};
    const widgets = root.querySelectorAll('.kagura-md.widget-vbox .widget-htmlmath');
    const tail = widgets.length ? widgets[widgets.length - 1] : null;
    function emit(str, ctx) {
      let s = str.replace(/\s+/g, ' ');
      if (st.space && s.startsWith(' ')) s = s.slice(1);
      if (!s) return;
      const key = ctx.where + '|' + ctx.what;
      if (key !== st.key) { st.segs.push([st.out.length, ctx.where, ctx.what]); st.key = key; }
      st.out += s;
      if (ctx.where !== 'other') st.answer += s.trim().length;
      st.space = s.endsWith(' ');
    }
    function sep() { if (!st.space) { st.out += ' '; st.space = true; } }
    function walk(node, ctx) {
      if (node.nodeType === Node.TEXT_NODE) { if (ctx.vis) emit(node.data, ctx); return; }
      if (node.nodeType !== Node.ELEMENT_NODE) return;
      const el = node;
      if (el.matches(SKIP)) return;
      const cs = getComputedStyle(el);
      if (cs.display === 'none') return;
      const c = Object.assign({}, ctx);
      c.vis = cs.visibility === 'visible';
      const tag = el.tagName;
      if (el.classList.contains('kagura-md')) c.where = 'box';
      if (el.matches('div.kagura-md:not(.widget-vbox)')) c.where = 'settled';
      if (el.classList.contains('widget-htmlmath')) c.where = el === tail ? 'tail' : 'frozen';
      const block = !(cs.display.startsWith('inline') || cs.display === 'contents' || cs.display === 'ruby');
      if (tag === 'MJX-CONTAINER') {
        if (block || el.getAttribute('display') === 'true') sep();
        if (c.vis) emit(mathText(el), Object.assign(c, {what: 'math'}));
        if (block || el.getAttribute('display') === 'true') sep();
        return;
      }
      if (el.classList.contains('math')) {
        c.what = 'tex';
        if (!el.querySelector('mjx-container')) st.untypeset++;
      } else if (tag === 'PRE') c.what = 'code';
      else if (tag === 'TABLE') c.what = 'table';
      else if (/^H[1-6]$/.test(tag)) c.what = 'heading';
      else if (tag === 'BLOCKQUOTE') c.what = 'quote';
      else if (tag === 'LI' && c.what !== 'code') c.what = 'list';
      if (block || tag === 'BR') sep();
      if (tag === 'LI' && el.parentElement && el.parentElement.tagName === 'OL'
          && cs.listStyleType !== 'none' && c.vis) {
        emit(olNumber(el) + '. ', Object.assign({}, c, {what: 'marker'}));
      }
      for (const child of el.childNodes) walk(child, c);
      if (block || tag === 'BR') sep();
    }
    walk(root, {where: 'other', what: 'text', vis: true});
    return {text: st.out.trim(), segs: st.segs, untypeset: st.untypeset, answer: st.answer};
  }
  window.__kaguraVisible = read;
})();
"""

JS_START_FRAMES = r"""
(index) => {
  const cell = document.querySelectorAll('.jp-Notebook .jp-Cell')[index];
  const rec = {frames: [], texts: [], segs: [], cost: 0, running: true};
  const ids = new Map();
  window.__kaguraFrames = rec;
  const frame = () => {
    if (!rec.running) return;
    const started = performance.now();
    const out = cell.querySelector('.jp-OutputArea');
    const seen = window.__kaguraVisible(out);
    let id = ids.get(seen.text);
    if (id === undefined) {
      id = rec.texts.length;
      ids.set(seen.text, id);
      rec.texts.push(seen.text);
      rec.segs.push(seen.segs);
    }
    rec.frames.push({
      t: started, id, answer: seen.answer, untypeset: seen.untypeset,
      live: !!(out && out.querySelector('.kagura-md.widget-vbox')),
      settled: !!(out && out.querySelector('div.kagura-md:not(.widget-vbox)')),
    });
    rec.cost += performance.now() - started;
    requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
}
"""

JS_STOP_FRAMES = r"""
() => { const rec = window.__kaguraFrames; rec.running = false;
        return {frames: rec.frames, texts: rec.texts, segs: rec.segs, cost: rec.cost}; }
"""

JS_READ = r"""
(i) => window.__kaguraVisible(document.querySelectorAll('.jp-Notebook .jp-Cell')[i]
                               .querySelector('.jp-OutputArea'))
"""

MARKDOWN_SYNTAX = set("*_`#|$\\[]()>~-=:!")
STATUS_WORDS = re.compile(r"streaming ·|· \d+ tokens|\bStop\b|Streaming an answer from")


def agent_cell(answer: str, tokens_per_second: float) -> str:
    return f"%%agent -m demo/echo --param tokens_per_second={tokens_per_second} --no-history\n{answer}"


def kind_at(segs: list[list[Any]], offset: int) -> tuple[str, str]:
    """(where, what) of the text run holding ``offset``: where is tail/frozen/settled/box/other."""
    where, what = "other", "text"
    for start, w, k in segs:
        if start > offset:
            break
        where, what = w, k
    return where, what


def common_prefix(a: str, b: str) -> int:
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


def classify(text: str, segs: list[list[Any]], final: str, final_segs: list[list[Any]]) -> tuple[str, int]:
    """Why ``text`` is not a prefix of ``final``: a cause and the first differing position."""
    at = common_prefix(text, final)
    where, what = kind_at(segs, at)
    _, final_what = kind_at(final_segs, at)
    rest = text[at:]
    if where == "other":
        return f"outside the answer (placeholder): {rest[:30]!r}", at
    if where == "box" or STATUS_WORDS.search(rest[:60]):
        return "status line or Stop button leaking in", at
    if what == "tex":
        return "math element not yet typeset by MathJax (TeX source shown)", at
    if final_what == "math" and what != "math":
        opener = "a $ delimiter" if rest.startswith("$") else f"{rest[:2]!r}"
        return f"open inline math shown as text before it closes ({opener} in the {where} {what})", at
    if what == "math":
        return "MathJax rendered text differs", at
    if "marker" in (what, final_what):
        return "ordered-list numbering", at
    if "code" in (what, final_what):
        return "fenced code block", at
    if "table" in (what, final_what):
        return "table", at
    tail_starts = [start for start, w, _ in segs if w == "tail"]
    if where == "tail" and tail_starts and at - tail_starts[0] <= 2:
        return f"tail-vs-frozen block boundary ({what} vs settled {final_what})", at
    if where == "tail" and len(text) - at <= 3:
        return f"trailing partial token in the tail ({what})", at
    if where == "tail" and rest[:1] in MARKDOWN_SYNTAX:
        return f"raw Markdown syntax in the tail ({what} vs settled {final_what})", at
    if rest[:1] == " " or final[at : at + 1] == " ":
        return f"whitespace at a {where} block edge ({what} vs settled {final_what})", at
    return f"{where} {what} differs (settled: {final_what})", at


def test_every_frame_is_a_beginning_of_the_settled_answer(lab: LabPage, screenshots: Path) -> None:
    lab.server.write_notebook(
        "visible-stability.ipynb", ["%load_ext kagura_magic", agent_cell(ANSWER, TOKENS_PER_SECOND)]
    )
    lab.open("visible-stability.ipynb")
    lab.page.add_script_tag(content=JS_VISIBLE)
    lab.run_cell(0)
    lab.wait_cell_done(0)

    lab.page.evaluate(JS_START_FRAMES, 1)
    lab.run_cell(1)
    lab.wait_settled(1, timeout=120_000)
    lab.wait_cell_done(1, timeout=60_000)
    lab.wait_typeset(1)
    # Settled means at rest: the same text twice, 300 ms apart (fonts, highlighting, MathJax).
    final = lab.page.evaluate(JS_READ, 1)
    for _ in range(20):
        lab.page.wait_for_timeout(300)
        again = lab.page.evaluate(JS_READ, 1)
        if again["text"] == final["text"]:
            break
        final = again
    record = lab.page.evaluate(JS_STOP_FRAMES)
    lab.screenshot(screenshots, "visible-stability-settled-cell", index=1)

    frames: list[dict[str, Any]] = record["frames"]
    texts: list[str] = record["texts"]
    segs: list[list[list[Any]]] = record["segs"]
    settled: str = final["text"]
    assert settled and final["untypeset"] == 0, f"the settled answer is not fully typeset: {final}"
    assert len(settled) > 2000, f"the settled answer is short: {len(settled)} characters"

    first = next((n for n, f in enumerate(frames) if f["answer"] > 0), None)
    assert first is not None, "no frame ever showed answer text"
    last = next(
        (n for n, f in enumerate(frames) if n >= first and f["settled"] and texts[f["id"]] == settled), None
    )
    assert last is not None, "no frame ever showed the settled text in the static output"
    after_differ = sum(1 for f in frames[last + 1 :] if texts[f["id"]] != settled)
    counted = frames[first : last + 1]
    live_frames = sum(1 for f in counted if f["live"])
    duration = (counted[-1]["t"] - counted[0]["t"]) / 1000

    failing: dict[str, list[tuple[int, dict[str, Any], int]]] = defaultdict(list)
    for n, frame in enumerate(counted):
        text = texts[frame["id"]]
        if settled.startswith(text):
            continue
        cause, at = classify(text, segs[frame["id"]], settled, final["segs"])
        failing[cause].append((n, frame, at))
    bad = sum(len(v) for v in failing.values())
    share = 1 - bad / len(counted)

    shown = [len(texts[f["id"]]) for f in counted]
    shrinks = sum(1 for a, b in itertools.pairwise(shown) if b < a)
    blanks = sum(1 for f in counted if not texts[f["id"]])
    before = Counter(texts[f["id"]][:40] for f in frames[:first])

    lines = [
        f"visible-text stability: {share:.4f} of {len(counted)} counted frames are a beginning of the "
        f"settled text ({bad} are not)",
        f"  {len(frames)} animation frames recorded ({len(frames) / max(duration, 1e-9):.0f} per second "
        f"over the {duration:.1f} s counted); {first} before the first answer text (showing "
        f"{dict(before)}), {len(frames) - last - 1} after the settled output was at rest ({after_differ} "
        "of them differ from it); "
        f"{live_frames} counted frames show the live widgets, {len(counted) - live_frames} do not",
        f"  settled text: {len(settled)} characters; {len(texts)} distinct frame texts; reading cost "
        f"{record['cost'] / max(len(frames), 1):.2f} ms per frame; {shrinks} frames shorter than the one "
        f"before, {blanks} blank",
    ]
    for cause, hits in sorted(failing.items(), key=lambda item: -len(item[1])):
        runs = 1 + sum(1 for a, b in itertools.pairwise(hits) if b[0] != a[0] + 1)
        lines.append(f"  {len(hits):4d} frames ({runs} episodes): {cause}")
        examples, seen_at = [], set()
        for _, frame, at in hits:
            if at in seen_at:
                continue
            seen_at.add(at)
            examples.append((frame, at))
        picks = examples if len(examples) <= 3 else [examples[0], examples[len(examples) // 2], examples[-1]]
        for frame, at in picks:
            text = texts[frame["id"]]
            lines.append(
                f"       at {at}: frame …{text[max(0, at - 40) : at]!r} ⟦{text[at : at + 30]!r}⟧ "
                f"(ends {len(text) - at} later, untypeset math {frame['untypeset']})"
            )
            near = settled[max(0, at - 40) : at]
            lines.append(f"            settled …{near!r} ⟦{settled[at : at + 30]!r}⟧")
    report = "\n".join(lines)
    print("\n" + report)

    dump = {
        "settled": final,
        "frames": frames,
        "texts": texts,
        "first": first,
        "last": last,
        "failing": {cause: [n for n, _, _ in hits] for cause, hits in failing.items()},
    }
    (screenshots / "visible-stability-frames.json").write_text(json.dumps(dump, ensure_ascii=False))
    assert not lab.page_errors, lab.page_errors
    assert live_frames >= 300, f"only {live_frames} frames of the live view were watched\n{report}"
    assert share >= REQUIRED_SHARE, report
