"""The notebook's live view of a streamed answer, and the static output it settles into.

While text arrives, the answer is an ipywidgets tree::

    VBox(.kagura-md)
      HTML        <style> once
      Accordion   what a reasoning model thinks (only when it does): its own
                  group of blocks, open while it thinks, then closed
      VBox        group: frozen HTMLMath widgets (finished blocks, each sent
        ...       once and never touched again), then the open tail -- or,
                  once the group holds GROUP_SIZE blocks, a nested group
      HTML        tool-call cards (only when the model calls a tool)
      HTML        spinner, then the status line
      Button      Stop, at the status line's end (only where the kernel can
                  deliver its click while the cell runs: ``views/_stop_button.py``)

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

import time
from collections.abc import Callable
from typing import Any

from kagura_magic.llm import StreamStats
from kagura_magic.markdown import MarkdownStream, PlainTextStream
from kagura_magic.views._bundle import (
    CONTAINER_CLASSES,
    THINKING_CLASS,
    base_stylesheet,
    spinner_html,
    status_html,
)
from kagura_magic.views._display import MIN_FRAME_INTERVAL, DisplayView
from kagura_magic.views._protocol import LiveMode
from kagura_magic.views._stop_button import stop_button

GROUP_SIZE = 8  # frozen widgets per box before nesting: a box's children list is re-sent on each change
STATUS_INTERVAL = 1.0
# Thinking is drawn at most every other frame (15 a second): it is glanced at, not read
# word by word as the answer is, and each draw re-sends its open tail (benchmarks/kernel_stream.py).
THOUGHT_INTERVAL = 2 * MIN_FRAME_INTERVAL

LIVE_CSS = """
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
.kagura-md > .widget-vbox > .widget-htmlmath:first-child > .widget-htmlmath-content > .mathjax_ignore
  > :first-child { margin-top: 0; }
/* Live, what JupyterLab's and Notebook 7's .jp-RenderedHTMLCommon gives the settled
   HTML (and not the widgets) that our rules leave standing. */
.jp-OutputArea-output .kagura-md:not(#kagura-boost).widget-vbox { padding-right: 20px; }
.jp-OutputArea-output .kagura-md > .widget-vbox > .widget-htmlmath:first-child > .widget-htmlmath-content
  > .mathjax_ignore > :is(h1, h2, h3, h4, h5, h6):first-child {
  margin-top: calc(0.5 * var(--jp-content-heading-margin-top)); }
.jp-OutputArea-output .kagura-md .widget-htmlmath-content :is(ul, ol) :is(ul, ol) { margin-bottom: 0; }
.jp-OutputArea-output .kagura-md .widget-htmlmath-content :is(h4, h5, h6) {
  font-weight: var(--jp-content-heading-font-weight); }
.jp-OutputArea-output .kagura-md .widget-htmlmath-content h4 { font-size: var(--jp-content-font-size2); }
.jp-OutputArea-output .kagura-md .widget-htmlmath-content h5 { font-size: var(--jp-content-font-size1); }
.jp-OutputArea-output .kagura-md .widget-htmlmath-content h6 { font-size: var(--jp-content-font-size0); }
.jp-OutputArea-output .kagura-md .widget-htmlmath-content hr { margin-top: 1em; margin-bottom: 1em; }
.jp-OutputArea-output .kagura-md .widget-htmlmath-content img { max-width: 100%; height: auto; }
.jp-OutputArea-output .kagura-md.widget-vbox > :is(:last-child, :has(+ .kagura-stop)) .kagura-status {
  margin-bottom: 0.5em; }
.kagura-md .widget-html-content, .kagura-md .widget-html { line-height: 1.6; height: auto; }
/* The Stop button sits at the end of the status line, out of the flow (absolute, at the
   bottom of the answer, where the status line is): the status line keeps its box and margins,
   so nothing moves when the answer settles and both go. */
.kagura-md:not(#kagura-boost).widget-vbox { position: relative; }
.kagura-md .kagura-stop.widget-button { position: absolute; right: 20px; bottom: 0; width: auto;
  height: 1.6em; line-height: 1.6em; margin: 0; padding: 0 0.7em;
  font-size: var(--jp-ui-font-size0, 11px); }
/* The thinking section, a stock Accordion, dressed as the settled <details> (THINKING_CSS gives
   both its size, colour and margins). ipywidgets 8 draws .jupyter-widget-Accordion >
   .jupyter-widget-Collapse > -header (<i class="fa"> caret, <span> title) + -contents (our box):
   flex boxes and Lumino widgets (overflow: hidden) that keep the body's block margins from
   collapsing as in <details>, a bold header bar and a bordered body. Here the header is a
   summary line with the browser's own disclosure marker, the body has the settled body's border. */
.kagura-md .kagura-thinking, .kagura-md .kagura-thinking .jupyter-widget-Collapse,
.kagura-md .kagura-thinking .jupyter-widget-Collapse-contents { display: block; overflow: visible; }
.kagura-md .kagura-thinking .jupyter-widget-Collapse-header, .kagura-md .kagura-thinking
  .jupyter-widget-Collapse-header:hover { display: list-item; list-style: disclosure-closed inside;
  margin: 0; padding: 0; border: 0; background: transparent; color: inherit; font-weight: inherit;
  cursor: pointer; font-family: var(--jp-ui-font-family, sans-serif); }
.kagura-md .kagura-thinking .jupyter-widget-Collapse-open > .jupyter-widget-Collapse-header {
  list-style-type: disclosure-open; }
.kagura-md .kagura-thinking .jupyter-widget-Collapse-header > .fa { display: none; }
.kagura-md .kagura-thinking .jupyter-widget-Collapse-contents { margin: 0.3em 0 0; padding: 0 0 0 0.7em;
  border: 0; border-left: 2px solid var(--jp-border-color2, rgba(127, 127, 127, 0.35));
  background: transparent; color: inherit; }
.kagura-md .kagura-thinking :is(.jupyter-widgets, .widget-htmlmath-content) { color: inherit; }
"""
"""Rules for the live widget tree only: a settled answer is one <div> and does not carry them."""


# MathJax reads ignore/process classes only from the element it is asked to
# typeset downwards, and ipywidgets' HTMLMath asks it to typeset each widget's
# content <div> on its own: the root's mathjax_ignore sits above that <div> and
# is never seen, so "$5 and $10" would be typeset. Each value therefore carries
# the ignore classes itself, and only what the engine marked (mathjax_process)
# is typeset, live as in the settled output.
_BLOCK_OPEN = '<div class="mathjax_ignore tex2jax_ignore">'


def block_html(fragment: str) -> str:
    """An HTMLMath widget's value: ``fragment`` inside an element that MathJax ignores."""
    return f"{_BLOCK_OPEN}{fragment}</div>" if fragment else ""


def stylesheet() -> str:
    """Everything a live answer may need: the shared styles and the widget tree's layout."""
    return base_stylesheet() + LIVE_CSS


class BlockTree:
    """One stream's widgets (the answer's, or the thinking's): finished blocks frozen once, the tail re-sent.

    See the module docstring for why a freeze is one ``children`` update and
    why groups nest.
    """

    def __init__(self, make_block: Any, make_box: Any) -> None:
        self._make_block, self._make_box = make_block, make_box
        self.tail = make_block("")
        self.root = make_box([self.tail])
        self._group = self.root
        self._frozen_in_group: list[Any] = []
        self._spare_tail: Any = None  # the tail a freeze detached, reused by the next freeze
        self._sent = 0  # characters of committed_html already frozen

    def draw(self, stream: MarkdownStream | PlainTextStream) -> None:
        committed = stream.committed_html
        tail_html = block_html(stream.tail_html())
        if len(committed) > self._sent:
            self._freeze(committed[self._sent :], tail_html)
            self._sent = len(committed)
        elif tail_html != self.tail.value:
            self.tail.value = tail_html

    def _freeze(self, frozen_html: str, tail_html: str) -> None:
        """Turn the tail into "frozen block + new tail" with one ``children`` update."""
        frozen, old_tail = self._make_block(block_html(frozen_html)), self.tail
        if self._spare_tail is None:
            new_tail = self._make_block(tail_html)
        else:  # detached, so this update shows nowhere until the children update below
            new_tail, self._spare_tail = self._spare_tail, None
            new_tail.value = tail_html
        if len(self._frozen_in_group) < GROUP_SIZE:
            self._frozen_in_group.append(frozen)
            self._group.children = (*self._frozen_in_group, new_tail)
        else:
            inner = self._make_box([frozen, new_tail])
            self._group.children = (*self._frozen_in_group, inner)
            self._group, self._frozen_in_group = inner, [frozen]
        self.tail, self._spare_tail = new_tail, old_tail


class NotebookView(DisplayView):
    """A live, coalescing widget view (see the module docstring for its tree)."""

    def __init__(
        self,
        label: str,
        mode: LiveMode = "markdown",
        *,
        remote_images: bool = False,
        show_thinking: bool = True,
    ) -> None:
        import ipywidgets as widgets
        from ipywidgets.widgets.widget_string import HTMLMathStyle, HTMLStyle

        super().__init__(label, mode, remote_images=remote_images, show_thinking=show_thinking)
        self._widgets = widgets
        # One layout and one style model for every widget of the answer: a widget
        # made without them opens its own, and closing a widget leaves those open.
        self._shared_layout = widgets.Layout()
        self._shared_style = HTMLMathStyle()
        self._shared_html_style = HTMLStyle()
        shared = {"layout": self._shared_layout, "style": self._shared_html_style}
        self._style = widgets.HTML(f"<style>{stylesheet()}</style>", **shared)
        self._status = widgets.HTML(spinner_html(self._waiting_label()), **shared)
        self._created: list[Any] = []  # every widget made for this answer, closed when it settles
        self._answer = BlockTree(self._block, self._box)
        self._thoughts: BlockTree | None = None  # made when the model starts thinking
        self._thinking_section: Any = None
        self._calls: Any = None  # the tool-call cards, made when the first call arrives
        # Shown from the start, with the spinner (a slow first token can be stopped too), and
        # opened with the root: added later, it would cost one more children update.
        self._stop: Callable[[], None] | None = None
        self._stop_clicked = False
        button = stop_button(widgets, self._stop_now, self._shared_layout)
        if button is not None:
            self._created.extend((button, button.style))
        self._bottom: tuple[Any, ...] = (self._status,) if button is None else (self._status, button)
        self._root = widgets.VBox(
            [self._style, self._answer.root, *self._bottom],
            layout=self._shared_layout,
            _dom_classes=CONTAINER_CLASSES.split(),
        )
        self._last_status = 0.0
        self._last_thought = 0.0
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
        self._handle = display(bundle, raw=True, display_id=True)  # type: ignore[no-untyped-call]

    def _show_waiting(self, label: str) -> None:
        self._status.value = spinner_html(label)

    def _first_token(self) -> None:
        self._status.value = ""  # the first token replaces the spinner

    def _thinking_done(self) -> None:
        if self._thinking_section is not None:  # it closes into "Thought for 12 s"; a click opens it
            if self._thoughts is not None and self.thinking is not None:
                self._thoughts.draw(self.thinking)  # the last of it, before it closes
            with self._thinking_section.hold_sync():  # title and close in one message
                self._thinking_section.set_title(0, self._thought_label())
                self._thinking_section.selected_index = None

    def _first_call(self) -> None:
        """A place for the tool-call cards, below the answer (plain HTML: arguments are not math)."""
        self._calls = self._widgets.HTML("", layout=self._shared_layout, style=self._shared_html_style)
        self._created.append(self._calls)
        keep = len(self._root.children) - len(self._bottom)
        self._root.children = (*self._root.children[:keep], self._calls, *self._bottom)

    def _first_thought(self) -> None:
        """The model started thinking: an open section above the answer shows it as it grows."""
        self._thoughts = BlockTree(self._block, self._box)
        # Title and class in the constructor: set after, each is one more message (1.2 KB).
        section = self._widgets.Accordion(
            children=[self._thoughts.root],
            titles=("Thinking…",),
            selected_index=0,
            layout=self._shared_layout,
            _dom_classes=(THINKING_CLASS,),
        )
        self._created.append(section)
        self._thinking_section = section
        self._root.children = (self._style, section, *self._root.children[1:])

    def offer_stop(self, stop: Callable[[], None]) -> None:
        """What the Stop button does (a click that came before it is acted on now)."""
        self._stop = stop
        if self._stop_clicked:
            stop()

    def _stop_now(self) -> None:
        """The Stop button's click, on whatever thread delivered it (``views/_stop_button.py``)."""
        self._stop_clicked = True
        if self._stop is not None:
            self._stop()

    def _draw(self, stats: StreamStats | None) -> None:
        """Send what changed: newly finished blocks once, and the open tail."""
        started = time.monotonic()
        thought_behind = False
        if self._thoughts is not None and self.thinking is not None and self._thinking_now():
            if started - self._last_thought >= THOUGHT_INTERVAL:
                self._thoughts.draw(self.thinking)
                self._last_thought = started
            else:
                thought_behind = True  # drawn by the next frame
        self._answer.draw(self.stream)
        if self._calls is not None:
            cards = self._calls_html()
            if cards != self._calls.value:
                self._calls.value = cards
        if not self._first_shown and (self.thinking is not None or self.calls):
            if started - self._last_status >= STATUS_INTERVAL:
                self._last_status = started
                self._show_waiting(self._waiting_label())
        elif stats is not None and started - self._last_status >= STATUS_INTERVAL:
            self._last_status = started
            self._status.value = status_html(f"{self.label} · streaming · {self._pieces_seen} tokens")
        self._dirty = thought_behind
        self.frames += 1
        self._last_frame = time.monotonic()
        # Adapt: if rendering and sending took a while, slow down rather than
        # let frames queue up behind each other.
        self._frame_interval = max(MIN_FRAME_INTERVAL, 3 * (self._last_frame - started))

    def _release(self) -> None:
        for widget in (*self._created, self._status, self._style, self._root):
            widget.close()
        for model in (self._shared_layout, self._shared_style, self._shared_html_style):
            model.close()
