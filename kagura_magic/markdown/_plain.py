"""A plain-text twin of ``MarkdownStream`` for answers shown verbatim (``-f text``).

Same interface, same promise: complete lines are committed once (append-only
HTML), only the unfinished last line is the tail, so the live view sends each
line once however long the answer grows.
"""

from __future__ import annotations

import html


def _line_html(line: str) -> str:
    # An empty line still needs height; a zero-width space keeps it without visible text.
    return f'<div class="kagura-line">{html.escape(line) or "&#8203;"}</div>'


class PlainTextStream:
    def __init__(self) -> None:
        self._parts: list[str] = []
        self._committed_html: list[str] = []
        self._tail = ""

    @property
    def text(self) -> str:
        return "".join(self._parts)

    def feed(self, chunk: str) -> None:
        if not chunk:
            return
        self._parts.append(chunk)
        *complete, self._tail = (self._tail + chunk).split("\n")
        self._committed_html.extend(_line_html(line) for line in complete)

    @property
    def committed_html(self) -> str:
        return "".join(self._committed_html)

    def tail_html(self) -> str:
        return _line_html(self._tail) if self._tail else ""

    def snapshot(self) -> str:
        return f'<div class="kagura-text">{self.committed_html}{self.tail_html()}</div>'

    def finish(self) -> str:
        return self.snapshot()
