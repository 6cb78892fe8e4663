"""The live view's Stop button, and how its click reaches a kernel that is busy running the cell.

A foreground ``%%agent`` cell holds the kernel's main thread until the answer
ends, and ipykernel handles a widget's comm messages (a button click among
them) on that thread, after the cell: a plain ``on_click`` handler would run
once there is nothing left to stop.

ipykernel 7 reads the shell channel on a thread of its own (the shell channel
thread, which routes each message to the main shell or a subshell) and, for
every ``comm_msg``, asks the target comm which subshell it goes to
(``comm._reply_subshell_for(data, default)``) before routing it. That question
is asked the moment the message arrives, on a thread that is never busy with
a cell. The button's comm answers it as it always would, and when the message
is a click it also asks the pump to stop: the pump's stop only sets a flag,
cuts the stream's sockets and wakes the reading thread, all safe from any
thread (``views/pump.py``). So the provider sees its connection closed
within milliseconds of the click, with nothing else in the kernel changed.

The other ways were worse: a thread reading the shell socket itself would
race ipykernel for messages; pumping the kernel's event loop from inside the
cell (what ``jupyter_ui_poll`` does) re-enters it and runs queued cells out of
order; ipykernel's own concurrent comm dispatch only helps a cell that awaits.
The hook is private ipykernel API, so it is used only where it is found (a
kernel with a shell channel thread, a comm that has the method): elsewhere,
ipykernel 6 or another kernel, no button is shown, since it could not work.
The plain ``on_click`` handler is still registered, for a kernel whose main
thread is free while the answer streams (an answer in the background).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

STOP_CLASS = "kagura-stop"
STOP_LABEL = "Stop"
STOP_TOOLTIP = "Stop this answer (what arrived is kept)"


def is_click(data: object) -> bool:
    """Whether a comm message's data is an ipywidgets button click."""
    if not isinstance(data, dict) or data.get("method") != "custom":
        return False
    content = data.get("content")
    return isinstance(content, dict) and content.get("event") == "click"


def clicks_reach_a_busy_kernel() -> bool:
    """Whether this kernel asks comms where their messages go from its shell channel thread."""
    try:
        from ipykernel.kernelbase import Kernel
    except ImportError:  # pragma: no cover - the notebook view runs in ipykernel
        return False
    if not Kernel.initialized():
        return False
    return getattr(Kernel.instance(), "shell_channel_thread", None) is not None


def stop_button(widgets: Any, on_stop: Callable[[], None], layout: Any) -> Any | None:
    """A Stop button that calls ``on_stop`` (once) on its first click; ``None`` where it could not work."""
    if not clicks_reach_a_busy_kernel():
        return None
    button = widgets.Button(
        description=STOP_LABEL,
        tooltip=STOP_TOOLTIP,
        icon="stop",
        layout=layout,
        _dom_classes=(STOP_CLASS,),
    )
    comm = getattr(button, "comm", None)
    route = getattr(comm, "_reply_subshell_for", None)
    if not callable(route):
        button.close()
        button.style.close()
        return None
    stopped = threading.Event()

    def stop_once() -> None:
        if not stopped.is_set():
            stopped.set()
            on_stop()

    def route_and_stop(data: object, default: object) -> object:
        """Runs on ipykernel's shell channel thread, as each message for this comm arrives."""
        if is_click(data):
            stop_once()
        return route(data, default)

    comm._reply_subshell_for = route_and_stop  # type: ignore[union-attr]
    button.on_click(lambda _button: stop_once())
    return button
