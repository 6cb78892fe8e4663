"""Markdown for streamed answers: pure text → HTML, no IPython, no widgets.

``render(text)`` is the one Markdown configuration (CommonMark + GFM tables,
strikethrough, task lists, bare-URL autolinks, footnotes, TeX math, pygments
highlighting; raw HTML shown as text, unsafe link schemes refused).
``STYLESHEET`` styles its output under ``.kagura-md``.

``MarkdownStream`` renders a growing text: ``feed(chunk)`` appends;
``committed_html`` (finished blocks, append-only), ``tail_html()`` (the healed
open tail), ``snapshot()`` (both) and ``finish()`` (``== render(text)``) read it;
``committed_source``/``healed_tail()`` give the same split as Markdown.

Modules: ``_config`` (parser, link safety, highlighting, footnotes across a
stream), ``_math`` (math rules), ``_stream`` (commit and hold), ``_heal``
(what an open tail may show), ``_style`` (the stylesheet), ``_saved`` (the
saved ``text/markdown``, made inert: ``inert_markdown``).
"""

from __future__ import annotations

from ._config import render
from ._plain import PlainTextStream
from ._saved import inert_markdown
from ._stream import MarkdownStream
from ._style import STYLESHEET, stylesheet_for

__all__ = ["STYLESHEET", "MarkdownStream", "PlainTextStream", "inert_markdown", "render", "stylesheet_for"]
