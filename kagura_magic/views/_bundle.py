"""The static output an answer settles into, and the styles the HTML views share.

A settled answer is one bundle (``text/markdown`` + ``text/html`` +
``text/plain``): a saved notebook shows it in any viewer, widgets or not, and
``nbval`` compares its text. Its stylesheet carries only the rules the
answer uses, since it is saved once per answer.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from typing import Any

from kagura_magic.llm import ToolCallEvent
from kagura_magic.markdown import STYLESHEET, inert_markdown, stylesheet_for
from kagura_magic.views._calls import CALL_CSS, calls_html, calls_markdown, calls_text
from kagura_magic.views._protocol import Outcome

SPINNER = """<span class="kagura-spinner" role="status" aria-label="waiting for the first token">
<span></span><span></span><span></span></span> <span class="kagura-status-text">{label}</span>"""

SPINNER_CSS = """
.kagura-spinner { display: inline-flex; gap: 3px; vertical-align: middle; }
.kagura-spinner span { width: 6px; height: 6px; border-radius: 50%;
  background: var(--jp-brand-color1, #1976d2); animation: kagura-pulse 1s infinite ease-in-out; }
.kagura-spinner span:nth-child(2) { animation-delay: .15s; }
.kagura-spinner span:nth-child(3) { animation-delay: .3s; }
@keyframes kagura-pulse { 0%, 80%, 100% { opacity: .25; transform: scale(.8); }
  40% { opacity: 1; transform: scale(1); } }
"""

VIEW_CSS = """
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

# MathJax (JupyterLab's typesetter) skips everything inside except what the
# engine marked as math ("mathjax_process"): a "$5" in prose is never typeset.
CONTAINER_CLASSES = "kagura-md tex2jax_ignore mathjax_ignore"
STOPPED_CLASS = "kagura-stopped"
THINKING_CLASS = "kagura-thinking"
THINKING_CSS = """
/* What a reasoning model thought: small and muted above the answer, closed once it answers. */
.kagura-md .kagura-thinking { font-size: 0.9em; color: var(--jp-content-font-color2, #666);
  margin: 0.2em 0 0.6em; }
.kagura-md details.kagura-thinking > summary { cursor: pointer;
  font-family: var(--jp-ui-font-family, sans-serif); }
.kagura-md .kagura-thinking-body { border-left: 2px solid var(--jp-border-color2, rgba(127, 127, 127, 0.35));
  padding-left: 0.7em; margin-top: 0.3em; }
"""
"""Only where an answer has thinking to show (and in every live view, which may come to)."""
STOPPED_CSS = """
/* An interrupt still ends the cell with an error, so that Run All stops there; in
   JupyterLab and Notebook 7 the error line right after a stopped answer reads as
   a stop (muted, no alarm colour), not as a failure. */
.jp-OutputArea-child:has(.kagura-stopped) + .jp-OutputArea-child
  .jp-RenderedText[data-mime-type="application/vnd.jupyter.stderr"] {
  background: transparent; color: var(--jp-ui-font-color1, inherit); }
.jp-OutputArea-child:has(.kagura-stopped) + .jp-OutputArea-child
  .jp-RenderedText[data-mime-type="application/vnd.jupyter.stderr"] pre {
  border-left: 3px solid var(--jp-border-color1, #9e9e9e); padding-left: 0.6em; }
.jp-OutputArea-child:has(.kagura-stopped) + .jp-OutputArea-child .ansi-bold { font-weight: 500; }
"""
"""Only in a stopped answer's output: it styles the error line that follows it."""


def base_stylesheet() -> str:
    """What any live HTML answer may need: Markdown, code colours, spinner, status line."""
    return STYLESHEET + SPINNER_CSS + VIEW_CSS + THINKING_CSS + CALL_CSS


def settled_stylesheet(rendered: str) -> str:
    """Only what this finished answer uses: it is saved with the notebook, once per answer."""
    return stylesheet_for(rendered) + VIEW_CSS


def status_html(text: str) -> str:
    return f'<div class="kagura-status">{html.escape(text)}</div>'


def spinner_html(label: str) -> str:
    return SPINNER.format(label=html.escape(label))


def _note_html(note: str, error: bool) -> str:
    lines = "<br>".join(html.escape(line) for line in note.splitlines())
    return f'<div class="kagura-note{" kagura-error" if error else ""}">{lines}</div>'


def static_bundle(
    source: str,
    rendered: str,
    status: str | None = None,
    note: str | None = None,
    error: bool = False,
    stopped: bool = False,
    thinking: tuple[str, str] | None = None,
    calls: Sequence[ToolCallEvent] = (),
) -> dict[str, Any]:
    """The settled output: readable as Markdown, HTML or plain text, in any viewer.

    ``stopped`` marks an interrupted answer, so the error line after it reads as a stop.
    ``thinking`` (summary, HTML) is what a reasoning model thought: a closed
    ``<details>`` above the answer in the HTML only, since the saved Markdown
    escapes tags and the text is the answer alone. ``calls`` are the tool
    calls the model asked for: cards below the answer, in every mimetype.
    """
    classes = f"{CONTAINER_CLASSES} {STOPPED_CLASS}" if stopped else CONTAINER_CLASSES
    thought = ""
    if thinking is not None:
        summary, body = thinking
        thought = (
            f'<details class="{THINKING_CLASS}"><summary>{html.escape(summary)}</summary>'
            f'<div class="kagura-thinking-body">{body}</div></details>'
        )
    cards = calls_html(calls)
    parts = [
        f"<style>{settled_stylesheet(thought + rendered + cards)}{THINKING_CSS if thought else ''}"
        f"{CALL_CSS if cards else ''}{STOPPED_CSS if stopped else ''}</style>",
        f'<div class="{classes}">{thought}{rendered}{cards}</div>',
    ]
    if note:
        parts.append(_note_html(note, error))
    if status:
        parts.append(status_html(status))
    plain = _joined(source, calls_text(calls))
    markdown = _joined(source, calls_markdown(calls))
    if note:
        plain, markdown = _joined(plain, f"[{note}]"), _joined(markdown, f"> {note}")
    # inert_markdown: a frontend that renders the saved Markdown itself must not run its raw HTML.
    return {"text/markdown": inert_markdown(markdown), "text/html": "\n".join(parts), "text/plain": plain}


def _joined(*parts: str) -> str:
    return "\n\n".join(part for part in parts if part)


def settled_bundle(
    outcome: Outcome,
    streamed_html: Callable[[], str],
    *,
    remote_images: bool = False,
    thinking: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """What ``outcome`` settles into; ``streamed_html()`` renders the stream's own final HTML,
    called only when the format does not replace it.

    A format may replace the rendering (``outcome.rendering``); an interrupt
    or a Stop click is noted as a stop, anything else that went wrong as an error.
    """
    rendering = outcome.rendering
    stopped = outcome.status in ("interrupted", "stopped")
    if not outcome.text and not outcome.note and not outcome.tool_calls and thinking is None:
        if stopped:  # nothing to keep, but the stop line below must still read as a stop
            return {
                "text/html": f'<style>{STOPPED_CSS}</style><div class="{STOPPED_CLASS}"></div>',
                "text/plain": "",
            }
        return {"text/plain": ""}  # nothing to keep: the caller's message says it all
    if rendering.html is not None:
        final_html = rendering.html
    elif rendering.markdown is not None:
        from kagura_magic.markdown import render

        final_html = render(rendering.markdown, remote_images=remote_images)
    else:
        final_html = streamed_html()
    shown = outcome.text or outcome.tool_calls
    status = outcome.stats.summary() if outcome.stats is not None and shown else None
    error = outcome.status not in ("complete", "interrupted", "stopped")
    bundle = static_bundle(
        outcome.text,
        final_html,
        status=status,
        note=outcome.note,
        error=error,
        stopped=stopped,
        thinking=thinking,
        calls=outcome.tool_calls,
    )
    bundle.update(rendering.extra)
    for mimetype in rendering.omit:
        bundle.pop(mimetype, None)
    return bundle
