"""The live view for frontends without widgets: whole-output ``update_display_data`` frames.

Each frame replaces the whole output, so it costs more bytes than the widget
view; frames are therefore rarer (about 4 a second). Chosen with
``%config AgentMagics.view = "html"``.
"""

from __future__ import annotations

import html
import time

from kagura_magic.llm import StreamStats
from kagura_magic.views._bundle import (
    CONTAINER_CLASSES,
    SPINNER_CSS,
    THINKING_CLASS,
    base_stylesheet,
    spinner_html,
)
from kagura_magic.views._display import DisplayView


class HtmlUpdateView(DisplayView):
    """A live view that redraws its one output in place (see the module docstring)."""

    MIN_INTERVAL = 0.25

    def _thinking_html(self) -> str:
        """The thinking section: open with the clock while the model thinks, closed after."""
        if self.thinking is None:
            return ""
        answering = not self._thinking_now()  # it answers, or calls a tool
        label = self._thought_label() if answering else self._waiting_label()
        if not self.show_thinking:
            return "" if answering else spinner_html(label)
        state = "" if answering else " open"
        return (
            f'<details class="{THINKING_CLASS}"{state}><summary>{html.escape(label)}</summary>'
            f'<div class="kagura-thinking-body">{self.thinking.snapshot()}</div></details>'
        )

    def start(self) -> None:
        self._show_waiting(self._waiting_label())

    def _show_waiting(self, label: str) -> None:
        from IPython.display import display

        bundle = {"text/html": f"<style>{SPINNER_CSS}</style>{spinner_html(label)}", "text/plain": label}
        if self._handle is None:
            self._handle = display(bundle, raw=True, display_id=True)  # type: ignore[no-untyped-call]
        else:
            self._handle.update(bundle, raw=True)

    def _draw(self, stats: StreamStats | None) -> None:
        if self._handle is None:
            return
        parts = (self._thinking_html(), self.stream.snapshot(), self._calls_html())
        answer = f'<div class="{CONTAINER_CLASSES}">{"".join(parts)}</div>'
        body = f"<style>{base_stylesheet()}</style>{answer}"
        self._handle.update({"text/html": body, "text/plain": self.stream.text}, raw=True)
        self._dirty = False
        self._last_frame = time.monotonic()
