"""A real kernel for tests: run code, read every message a frontend would receive."""

from __future__ import annotations

import os
import queue
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from jupyter_client import KernelManager


@dataclass
class Execution:
    """Everything one execute request produced, in arrival order."""

    reply: dict[str, Any]
    messages: list[dict[str, Any]] = field(default_factory=list)
    msg_id: str = ""

    @property
    def status(self) -> str:
        return self.reply["content"]["status"]

    def of_type(self, *types: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["msg_type"] in types]

    @property
    def stdout(self) -> str:
        return "".join(
            m["content"]["text"] for m in self.of_type("stream") if m["content"]["name"] == "stdout"
        )

    @property
    def stderr(self) -> str:
        return "".join(
            m["content"]["text"] for m in self.of_type("stream") if m["content"]["name"] == "stderr"
        )

    @property
    def error(self) -> dict[str, Any] | None:
        errors = self.of_type("error")
        return errors[0]["content"] if errors else None

    def final_display(self) -> dict[str, Any] | None:
        """The bundle a frontend shows last for the first display id (updates applied)."""
        displays = [m for m in self.of_type("display_data") if (m["content"].get("transient") or {})]
        if not displays:
            return None
        display_id = displays[0]["content"]["transient"]["display_id"]
        content = displays[0]["content"]
        for message in self.of_type("update_display_data"):
            if message["content"]["transient"]["display_id"] == display_id:
                content = message["content"]
        return content

    def widget_opens(self) -> list[dict[str, Any]]:
        return [m for m in self.of_type("comm_open") if m["content"].get("target_name") == "jupyter.widget"]

    def widget_updates(self) -> list[dict[str, Any]]:
        return [
            m for m in self.of_type("comm_msg") if (m["content"].get("data") or {}).get("method") == "update"
        ]


class Kernel:
    def __init__(self, env: dict[str, str] | None = None) -> None:
        kernel_env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
        kernel_env.pop("KAGURA_MODEL", None)
        kernel_env.update(env or {})
        self.manager = KernelManager(kernel_name="python3")
        self.manager.start_kernel(env=kernel_env)
        self.client = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)
        # Every iopub message read, whatever request it answers: a background answer's
        # messages keep coming, addressed to its cell, after that cell's execution ended.
        self.everything: list[dict[str, Any]] = []

    def execute(
        self, code: str, timeout: float = 60, cell_id: str | None = None, on_message: Any = None
    ) -> Execution:
        """Run ``code`` like a frontend does (with a cell id when given)."""
        content = {
            "code": code,
            "silent": False,
            "store_history": True,
            "allow_stdin": False,
            "stop_on_error": True,
        }
        message = self.client.session.msg("execute_request", content)
        if cell_id:
            message["metadata"]["cellId"] = cell_id
        self.client.shell_channel.send(message)
        msg_id = message["header"]["msg_id"]
        execution = Execution(reply={}, msg_id=msg_id)
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no idle status within {timeout} s")
            try:
                msg = self.client.get_iopub_msg(timeout=remaining)
            except queue.Empty:
                continue
            msg["received"] = time.monotonic()
            self.everything.append(msg)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            execution.messages.append(msg)
            if on_message is not None:
                on_message(msg)
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                break
        while True:
            reply = self.client.get_shell_msg(timeout=max(deadline - time.monotonic(), 1))
            if reply["parent_header"].get("msg_id") == msg_id:
                execution.reply = reply
                return execution

    def addressed_to(self, execution: Execution) -> Execution:
        """Every message read so far that answers ``execution``'s request, later ones included."""
        return Execution(
            reply=execution.reply,
            messages=[m for m in self.everything if m["parent_header"].get("msg_id") == execution.msg_id],
            msg_id=execution.msg_id,
        )

    def settled_display(self, execution: Execution) -> dict[str, Any] | None:
        """The bundle shown last for the display ``execution`` opened, with every update read so
        far applied, whichever request it came with (a background answer settles later)."""
        displays = [m for m in execution.of_type("display_data") if m["content"].get("transient")]
        if not displays:
            return None
        display_id = displays[0]["content"]["transient"]["display_id"]
        content = displays[0]["content"]
        for message in self.everything:
            transient = message["content"].get("transient") or {}
            if message["msg_type"] == "update_display_data" and transient.get("display_id") == display_id:
                content = message["content"]
        return content

    def interrupt(self) -> None:
        self.manager.interrupt_kernel()

    def shutdown(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


@contextmanager
def loaded_kernel(env: dict[str, str] | None = None) -> Iterator[Kernel]:
    """A kernel with ``%load_ext kagura_magic`` done, shut down afterwards."""
    kernel = Kernel(env)
    try:
        setup = kernel.execute("%load_ext kagura_magic")
        assert setup.status == "ok", setup.error
        yield kernel
    finally:
        kernel.shutdown()
