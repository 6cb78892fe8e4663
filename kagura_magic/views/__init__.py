"""Views of a streamed answer, behind one ``View`` protocol (``_protocol``).

``notebook`` (ipywidgets: finished blocks sent once, the open tail re-sent),
``html_update`` (``update_display_data`` frames, for frontends without
widgets) and ``terminal`` (rich, for the CLI and terminal IPython); ``pump``
moves a stream into any of them. ``make_view`` picks one.
"""

from __future__ import annotations

from typing import Any, Literal

from kagura_magic.views._protocol import LiveMode, Outcome, Rendering, Status, View

ViewKind = Literal["auto", "widget", "html", "terminal"]

__all__ = ["LiveMode", "Outcome", "Rendering", "Status", "View", "ViewKind", "make_view"]


def make_view(
    label: str,
    *,
    kind: ViewKind = "auto",
    shell: Any = None,
    mode: LiveMode = "markdown",
    quiet: bool = False,
    remote_images: bool = False,
    show_thinking: bool = True,
) -> View:
    """The view for where the answer is shown; ``auto`` asks the shell.

    A kernel (``ZMQInteractiveShell``) talks to a frontend that renders
    widgets (JupyterLab, Notebook, VS Code); terminal IPython and plain
    scripts do not. Notebook views stream ``data`` (JSON) as Markdown: the
    settled output replaces it with the parsed value in place. ``remote_images``
    lets HTML views load images from other sites (the terminal shows none).
    """
    if kind == "auto":
        kind = "widget" if type(shell).__name__ == "ZMQInteractiveShell" else "terminal"
    live_mode: LiveMode = "markdown" if mode == "data" else mode
    if kind == "html":
        from kagura_magic.views.html_update import HtmlUpdateView

        return HtmlUpdateView(label, live_mode, remote_images=remote_images, show_thinking=show_thinking)
    if kind == "widget":
        from kagura_magic.views.notebook import NotebookView

        return NotebookView(label, live_mode, remote_images=remote_images, show_thinking=show_thinking)
    from kagura_magic.views import terminal

    # A terminal shows thinking live, then folds it into one line ("hide": only its clock).
    return terminal.make_view(label, mode=mode, quiet=quiet, thinking="live" if show_thinking else "hide")
