"""The notebook's live view of a streamed answer, and the static output it settles into.

While text arrives, the answer is an ipywidgets tree::

    VBox(.kagura-md)
      HTML        <style> once
      VBox        group: frozen HTMLMath widgets (finished blocks, each sent
        ...       once and never touched again), then the open tail -- or,
                  once the group holds GROUP_SIZE blocks, a nested group
      HTML        spinner, then the status line

A finished block goes to the frontend exactly once, so bytes over the wire
stay proportional to the answer, not quadratic, and MathJax typesets each
finished block once instead of on every token. When blocks finish, a single
``children`` update replaces the old tail with "new frozen block + new tail
(already filled)": the frontend applies one message, so no frame shows the
block twice or not at all (two messages to two widgets would). The tail it
replaced is kept, detached, and filled (unseen) to become the next tail: each
widget's opening and closing messages cost about a kilobyte of envelope and
default state, more than most blocks. Nesting keeps each ``children`` list
short, since the whole list is re-sent on change.

When the answer ends, the same display id is updated in place with a static
bundle (``text/markdown`` + ``text/html`` + ``text/plain``) and the widgets
are closed: a saved notebook then shows the answer anywhere, widgets or not.
"""

from __future__ import annotations

import html
import time
from typing import Any

from kagura_magic.markdown import STYLESHEET, MarkdownStream, PlainTextStream, stylesheet_for

MIN_FRAME_INTERVAL = 1 / 30
GROUP_SIZE = 8  # frozen widgets per box before nesting: a box's children list is re-sent on each change
STATUS_INTERVAL = 1.0

_SPINNER = """<span class="kagura-spinner" role="status" aria-label="waiting for the first token">
<span></span><span></span><span></span></span> <span class="kagura-status-text">{label}</span>"""

_SPINNER_CSS = """
.kagura-spinner { display: inline-flex; gap: 3px; vertical-align: middle; }
.kagura-spinner span { width: 6px; height: 6px; border-radius: 50%;
  background: var(--jp-brand-color1, #1976d2); animation: kagura-pulse 1s infinite ease-in-out; }
.kagura-spinner span:nth-child(2) { animation-delay: .15s; }
.kagura-spinner span:nth-child(3) { animation-delay: .3s; }
@keyframes kagura-pulse { 0%, 80%, 100% { opacity: .25; transform: scale(.8); }
  40% { opacity: 1; transform: scale(1); } }
"""

_VIEW_CSS = """
.kagura-status { color: var(--jp-ui-font-color2, #777); font-size: 0.85em;
  font-family: var(--jp-ui-font-family, sans-serif); margin-top: 0.4em; }
.kagura-note { margin-top: 0.5em; padding: 0.35em 0.6em; border-left: 3px solid #d9822b;
  background: rgba(217, 130, 43, 0.08); font-size: 0.9em; }
.kagura-note.kagura-error { border-left-color: #d13c3c; background: rgba(209, 60, 60, 0.08); }
/* JupyterLab styles rendered outputs with rules like ".jp-ThemedContainer
   .jp-RenderedHTMLCommon pre", which beat ".kagura-md pre"; ":not(#kagura-boost)"
   adds an id's weight so the live widgets and the settled HTML look the same. */
.kagura-md:not(#kagura-boost) { font-size: var(--jp-content-font-size1, 14px); line-height: 1.55; }
.kagura-md:not(#kagura-boost) h1 { font-size: 1.6em; font-weight: 600; }
.kagura-md:not(#kagura-boost) h2 { font-size: 1.35em; font-weight: 600; }
.kagura-md:not(#kagura-boost) h3 { font-size: 1.15em; font-weight: 600; }
.kagura-md:not(#kagura-boost) pre { background: rgba(127, 127, 127, 0.10); padding: 0.6em 0.8em;
  margin: 0.55em 0; border-radius: 4px; font-size: var(--jp-code-font-size, 13px); line-height: 1.4; }
.kagura-md:not(#kagura-boost) pre code { font-size: inherit; background: transparent; padding: 0; }
.kagura-md:not(#kagura-boost) :not(pre) > code { font-size: 0.9em; padding: 0.08em 0.3em;
  background: rgba(127, 127, 127, 0.16); }
.kagura-md:not(#kagura-boost) table { font-size: 0.93em; }
.kagura-md:not(#kagura-boost) td, .kagura-md:not(#kagura-boost) th { line-height: 1.45; }
.kagura-md:not(#kagura-boost) ul, .kagura-md:not(#kagura-boost) ol { padding-left: 2em; }
.kagura-status { font-size: var(--jp-ui-font-size0, 11px); }
.kagura-line { white-space: pre-wrap; font-family: var(--jp-code-font-family, monospace);
  font-size: var(--jp-code-font-size, 13px); line-height: 1.45; }
"""

_LIVE_CSS = """
/* Live, the answer is boxes of HTMLMath widgets, settled one <div>: as plain blocks,
   not ipywidgets' flex boxes (2px margins, overflow: auto), the widgets let block
   margins collapse as in the settled HTML; font-size: inherit for the status line's
   relative size (--jp-ui-font-size0 is 0.83333em). */
.kagura-md:not(#kagura-boost).widget-vbox { display: block; margin: 0; overflow: visible; }
.kagura-md:not(#kagura-boost) .widget-vbox, .kagura-md:not(#kagura-boost) .widget-htmlmath,
.kagura-md:not(#kagura-boost) .widget-htmlmath-content, .kagura-md:not(#kagura-boost) .widget-html {
  display: block; width: auto; margin: 0; padding: 0; overflow: visible; font-size: inherit; }
.kagura-md:not(#kagura-boost) .widget-vbox, .kagura-md:not(#kagura-boost) .widget-htmlmath,
.kagura-md:not(#kagura-boost) .widget-htmlmath-content { line-height: inherit; }
/* Settled ".kagura-md > :first-child", live (unboosted too: a boosted pre margin wins). */
.kagura-md > .widget-vbox > .widget-htmlmath:first-child > .widget-htmlmath-content > :first-child {
  margin-top: 0; }
/* Live, what JupyterLab's and Notebook 7's .jp-RenderedHTMLCommon gives the settled
   HTML (and not the widgets) that our rules leave standing. */
.jp-OutputArea-output .kagura-md:not(#kagura-boost).widget-vbox { padding-right: 20px; }
.jp-OutputArea-output .kagura-md > .widget-vbox > .widget-htmlmath:first-child > .widget-htmlmath-content
  > :is(h1, h2, h3, h4, h5, h6):first-child { margin-top: calc(0.5 * var(--jp-content-heading-margin-top)); }
.jp-OutputArea-output .kagura-md .widget-htmlmath-content :is(ul, ol) :is(ul, ol) { margin-bottom: 0; }
.jp-OutputArea-output .kagura-md .widget-htmlmath-content :is(h4, h5, h6) {
  font-weight: var(--jp-content-heading-font-weight); }
.jp-OutputArea-output .kagura-md .widget-htmlmath-content h4 { font-size: var(--jp-content-font-size2); }
.jp-OutputArea-output .kagura-md .widget-htmlmath-content h5 { font-size: var(--jp-content-font-size1); }
.jp-OutputArea-output .kagura-md .widget-htmlmath-content h6 { font-size: var(--jp-content-font-size0); }
.jp-OutputArea-output .kagura-md .widget-htmlmath-content hr { margin-top: 1em; margin-bottom: 1em; }
.jp-OutputArea-output .kagura-md .widget-htmlmath-content img { max-width: 100%; height: auto; }
.jp-OutputArea-output .kagura-md.widget-vbox > :last-child .kagura-status { margin-bottom: 0.5em; }
.kagura-md .widget-html-content, .kagura-md .widget-html { line-height: 1.6; height: auto; }
"""
"""Rules for the live widget tree only: a settled answer is one <div> and does not carry them."""


# MathJax (JupyterLab's typesetter) skips everything inside except what the
# engine marked as math ("mathjax_process"): a "$5" in prose is never typeset.
_CONTAINER_CLASSES = "kagura-md tex2jax_ignore mathjax_ignore"


def stylesheet() -> str:
    """Everything a live answer may need: Markdown, code colours, spinner, status, widget layout."""
    return STYLESHEET + _SPINNER_CSS + _VIEW_CSS + _LIVE_CSS


def settled_stylesheet(rendered: str) -> str:
    """Only what this finished answer uses: it is saved with the notebook, once per answer."""
    return stylesheet_for(rendered) + _VIEW_CSS


def _status_html(text: str) -> str:
    return f'<div class="kagura-status">{html.escape(text)}</div>'


def _note_html(note: str, error: bool) -> str:
    lines = "<br>".join(html.escape(line) for line in note.splitlines())
    return f'<div class="kagura-note{" kagura-error" if error else ""}">{lines}</div>'


def static_bundle(
    source: str, rendered: str, status: str | None = None, note: str | None = None, error: bool = False
) -> dict[str, str]:
    """The settled output: readable as Markdown, HTML or plain text, in any viewer."""
    parts = [
        f"<style>{settled_stylesheet(rendered)}</style>",
        f'<div class="{_CONTAINER_CLASSES}">{rendered}</div>',
    ]
    if note:
        parts.append(_note_html(note, error))
    if status:
        parts.append(_status_html(status))
    plain = source if not note else f"{source}\n\n[{note}]" if source else f"[{note}]"
    markdown = source if not note else f"{source}\n\n> {note}" if source else f"> {note}"
    return {"text/markdown": markdown, "text/html": "\n".join(parts), "text/plain": plain}


def settled_bundle(
    stream: Any,
    stats: Any,
    note: str | None,
    error: bool,
    rendered: str | None,
    extra: dict[str, Any] | None,
    omit: tuple[str, ...],
) -> dict[str, Any]:
    """The static output a finished stream settles into (see ``NotebookView.settle``)."""
    source = stream.text
    if not source:
        return {"text/plain": ""}  # nothing to keep: the cell's error says it all
    final_html = stream.finish() if rendered is None else rendered
    status = stats.summary() if stats is not None else None
    bundle: dict[str, Any] = static_bundle(source, final_html, status=status, note=note, error=error)
    bundle.update(extra or {})
    for mimetype in omit:
        bundle.pop(mimetype, None)
    return bundle


class _LiveView:
    """What both live views share: text in, frames on time, a static output at the end.

    The caller feeds text and asks ``due_in()`` how long it may wait for more
    before calling ``flush()``; a view never starts threads or timers, so
    every message is sent from the thread running the cell.
    """

    MIN_INTERVAL = MIN_FRAME_INTERVAL

    def __init__(self, label: str, verbatim: bool = False) -> None:
        self.label = label
        self.stream: Any = PlainTextStream() if verbatim else MarkdownStream()
        self._handle: Any = None
        self._dirty = False
        self._first_shown = False
        self._last_frame = 0.0
        self._frame_interval = self.MIN_INTERVAL
        self._pieces_seen = 0

    def feed(self, piece: str, stats: Any = None) -> None:
        if not piece:
            return
        self.stream.feed(piece)
        self._pieces_seen += 1
        self._dirty = True
        if not self._first_shown:  # the first token is shown at once, never held for a frame
            self._first_shown = True
            self._first_token()
            self.flush(stats)

    def due_in(self) -> float | None:
        """Seconds until a pending frame should be sent; None when nothing is pending."""
        if not self._dirty:
            return None
        return max(0.0, self._last_frame + self._frame_interval - time.monotonic())

    def flush(self, stats: Any = None) -> None:  # pragma: no cover - each view sends its own frames
        raise NotImplementedError

    def settle(
        self,
        stats: Any = None,
        note: str | None = None,
        error: bool = False,
        metadata: dict | None = None,
        rendered: str | None = None,
        extra: dict[str, Any] | None = None,
        omit: tuple[str, ...] = (),
    ) -> dict[str, Any]:
        """Replace the live view in place with the static output.

        ``rendered`` replaces the streamed HTML (a format that renders
        differently once complete, e.g. pretty JSON); ``extra`` adds mimetypes
        and ``omit`` drops some.
        """
        bundle = settled_bundle(self.stream, stats, note, error, rendered, extra, omit)
        if self._handle is not None:
            self._handle.update(bundle, raw=True, metadata={"kagura_magic": metadata or {}})
        self._release()
        return bundle

    def _first_token(self) -> None:
        """What changes in the view the moment the first token arrives."""

    def _release(self) -> None:
        """Free what the live view held once the answer has settled."""


class NotebookView(_LiveView):
    """A live, coalescing widget view (see the module docstring for its tree)."""

    def __init__(self, label: str, verbatim: bool = False) -> None:
        import ipywidgets as widgets
        from ipywidgets.widgets.widget_string import HTMLMathStyle

        super().__init__(label, verbatim)
        self._widgets = widgets
        self._shared_layout = widgets.Layout()
        self._shared_style = HTMLMathStyle()
        self._style = widgets.HTML(f"<style>{stylesheet()}</style>", layout=self._shared_layout)
        self._status = widgets.HTML(
            _SPINNER.format(label=html.escape(f"Waiting for {label}…")), layout=self._shared_layout
        )
        self._created: list[Any] = []  # every widget made for this answer, closed when it settles
        self._tail = self._block("")
        self._group = self._box([self._tail])
        self._frozen_in_group: list[Any] = []
        self._spare_tail: Any = None  # the tail a freeze detached, reused by the next freeze
        self._root = widgets.VBox(
            [self._style, self._group, self._status], _dom_classes=_CONTAINER_CLASSES.split()
        )
        self._sent_committed = 0  # characters of committed_html already frozen
        self._last_status = 0.0
        self.frames = 0

    def _block(self, value: str) -> Any:
        widget = self._widgets.HTMLMath(value, layout=self._shared_layout, style=self._shared_style)
        self._created.append(widget)
        return widget

    def _box(self, children: list[Any]) -> Any:
        box = self._widgets.VBox(children, layout=self._shared_layout)
        self._created.append(box)
        return box

    # -- lifecycle ----------------------------------------------------------
    def start(self) -> None:
        from IPython.display import display

        # Our own bundle rather than the widget's repr: a frontend without
        # widget support shows this line (then the settled answer) instead of
        # "VBox(children=(HTML(value='<style>…".
        bundle = {
            "application/vnd.jupyter.widget-view+json": {
                "model_id": self._root.model_id,
                "version_major": 2,
                "version_minor": 0,
            },
            "text/plain": f"Streaming an answer from {self.label}…",
        }
        self._handle = display(bundle, raw=True, display_id=True)

    def _first_token(self) -> None:
        self._status.value = ""  # the first token replaces the spinner

    def flush(self, stats: Any = None) -> None:
        """Send what changed: newly finished blocks once, and the open tail."""
        if not self._dirty:
            return
        started = time.monotonic()
        committed = self.stream.committed_html
        tail_html = self.stream.tail_html()
        if len(committed) > self._sent_committed:
            self._freeze(committed[self._sent_committed :], tail_html)
            self._sent_committed = len(committed)
        elif tail_html != self._tail.value:
            self._tail.value = tail_html
        if stats is not None and started - self._last_status >= STATUS_INTERVAL:
            self._last_status = started
            self._status.value = _status_html(f"{self.label} · streaming · {self._pieces_seen} tokens")
        self._dirty = False
        self.frames += 1
        self._last_frame = time.monotonic()
        # Adapt: if rendering and sending took a while, slow down rather than
        # let frames queue up behind each other.
        self._frame_interval = max(MIN_FRAME_INTERVAL, 3 * (self._last_frame - started))

    def _freeze(self, frozen_html: str, tail_html: str) -> None:
        """Turn the tail into "frozen block + new tail" with one ``children`` update."""
        frozen, old_tail = self._block(frozen_html), self._tail
        if self._spare_tail is None:
            new_tail = self._block(tail_html)
        else:  # detached, so this update shows nowhere until the children update below
            new_tail, self._spare_tail = self._spare_tail, None
            new_tail.value = tail_html
        if len(self._frozen_in_group) < GROUP_SIZE:
            self._frozen_in_group.append(frozen)
            self._group.children = (*self._frozen_in_group, new_tail)
        else:
            inner = self._box([frozen, new_tail])
            self._group.children = (*self._frozen_in_group, inner)
            self._group, self._frozen_in_group = inner, [frozen]
        self._tail, self._spare_tail = new_tail, old_tail

    def _release(self) -> None:
        for widget in (*self._created, self._status, self._style, self._root):
            widget.close()
        self._shared_layout.close()
        self._shared_style.close()


class HtmlUpdateView(_LiveView):
    """A live view without widgets, for frontends that cannot render them.

    Each frame replaces the whole output through ``update_display_data``, so
    it costs more bytes than ``NotebookView``; frames are therefore rarer
    (about 4 a second). Chosen with ``%config AgentMagics.view = "html"``.
    """

    MIN_INTERVAL = 0.25

    def start(self) -> None:
        from IPython.display import display

        spinner = _SPINNER.format(label=html.escape(f"Waiting for {self.label}…"))
        self._handle = display(
            {
                "text/html": f"<style>{_SPINNER_CSS}</style>{spinner}",
                "text/plain": f"Waiting for {self.label}…",
            },
            raw=True,
            display_id=True,
        )

    def flush(self, stats: Any = None) -> None:
        if not self._dirty or self._handle is None:
            return
        body = (
            f'<style>{stylesheet()}</style><div class="{_CONTAINER_CLASSES}">{self.stream.snapshot()}</div>'
        )
        self._handle.update({"text/html": body, "text/plain": self.stream.text}, raw=True)
        self._dirty = False
        self._last_frame = time.monotonic()


async def show_stream(pieces: Any, label: str | None = None) -> str:
    """Render any async iterator of text live in the notebook; return the full text.

    Works with ``call_llm_stream``, ``@agent(stream=True)`` or your own
    generator. Frames are coalesced like ``%%agent`` and a pending frame is
    sent on time even while the iterator is quiet. On error or cancellation
    the view settles with what arrived, then the exception propagates.
    """
    import asyncio

    stats = getattr(pieces, "stats", None)
    view = NotebookView(label or getattr(stats, "model", None) or "stream")
    view.start()
    iterator = pieces.__aiter__()
    next_piece: asyncio.Future | None = None
    try:
        while True:
            if next_piece is None:
                next_piece = asyncio.ensure_future(iterator.__anext__())
            done, _ = await asyncio.wait({next_piece}, timeout=view.due_in())
            if not done:
                view.flush(stats)
                continue
            try:
                piece = next_piece.result()
            except StopAsyncIteration:
                break
            finally:
                next_piece = None
            view.feed(piece, stats)
            if view.due_in() == 0:
                view.flush(stats)
    except BaseException as exc:
        if next_piece is not None:
            next_piece.cancel()
        view.flush(stats)
        note = (
            "interrupted: partial answer"
            if isinstance(exc, asyncio.CancelledError | KeyboardInterrupt)
            else ("partial answer: the stream failed")
        )
        view.settle(stats, note=note, error=True, metadata={"status": "partial"})
        raise
    view.flush(stats)
    view.settle(stats, metadata={**(stats.as_metadata() if stats is not None else {}), "status": "complete"})
    return view.stream.text
