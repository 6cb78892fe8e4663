"""Make nbval see a cell's outputs the way frontends do: display updates applied.

nbval keeps the first ``display_data`` of a display id and drops later
``update_display_data`` messages ("unhandled iopub msg"). Every frontend,
nbclient and nbconvert apply them in place. ``%%agent`` relies on that: its
live widget is replaced by the settled answer under the same display id. So
without this plugin nbval would compare the live widget, not the answer.

From a cell's first ``display_data`` that carries a display id, messages are
held until the kernel goes idle; updates are applied to the held displays;
then the messages are released in their original order. Nothing else about
nbval's comparison changes.
"""

from __future__ import annotations

import copy
from collections import deque
from typing import Any

import pytest


class _DisplayUpdateApplier:
    def __init__(self, receive: Any) -> None:
        self._receive = receive
        self._ready: deque[dict] = deque()

    def __call__(self, timeout: float | None = None, stream: str = "iopub") -> dict:
        if stream != "iopub":
            return self._receive(timeout=timeout, stream=stream)
        if self._ready:
            return self._ready.popleft()
        message = self._receive(timeout=timeout, stream=stream)
        if not _display_id(message):
            return _without_update(message, self._receive, timeout)
        held = [message]
        while not _is_idle(held[-1]):
            held.append(self._receive(timeout=timeout, stream=stream))
        self._ready.extend(_apply_updates(held))
        return self._ready.popleft()


def _display_id(message: dict) -> str | None:
    if message.get("msg_type") != "display_data":
        return None
    return (message["content"].get("transient") or {}).get("display_id")


def _is_idle(message: dict) -> bool:
    return message.get("msg_type") == "status" and message["content"].get("execution_state") == "idle"


def _without_update(message: dict, receive: Any, timeout: float | None) -> dict:
    """An update for a display we no longer hold (an earlier cell's) changes nothing here."""
    while message.get("msg_type") == "update_display_data":
        message = receive(timeout=timeout, stream="iopub")
    return message


def _apply_updates(held: list[dict]) -> list[dict]:
    displays: dict[str, dict] = {}
    released: list[dict] = []
    for message in held:
        if message.get("msg_type") == "update_display_data":
            display_id = (message["content"].get("transient") or {}).get("display_id")
            target = displays.get(display_id)
            if target is not None:
                target["content"]["data"] = message["content"]["data"]
                target["content"]["metadata"] = message["content"].get("metadata", {})
            continue
        message = copy.deepcopy(message) if _display_id(message) else message
        if _display_id(message):
            displays[_display_id(message)] = message
        released.append(message)
    return released


@pytest.hookimpl(tryfirst=True)
def pytest_collectstart(collector: Any) -> None:
    """Wrap each notebook file's message reader as nbval collects it."""
    try:
        from nbval.plugin import IPyNbFile
    except ImportError:  # nbval not installed: nothing to adapt
        return
    if isinstance(collector, IPyNbFile) and not getattr(collector, "_kagura_wrapped", False):
        original = collector.get_kernel_message
        applier = _DisplayUpdateApplier(lambda timeout=None, stream="iopub": original(timeout, stream))
        collector.get_kernel_message = applier
        collector._kagura_wrapped = True
