"""Answers that stream while other cells run (``%%agent --bg``).

The cell that asks shows the view (its display and widgets belong to that
cell) and opens the stream, then returns; a thread reads the stream into the
view. The kernel's main thread is free, so other cells run, and several
answers can stream at once, each with its own view, stream and thread.

Where the messages go: ipykernel 7 keeps the parent header (the request a
message answers, which is how a frontend knows its cell) in a context
variable. The thread runs in a copy of the asking cell's context, so every
widget message it sends carries that cell's parent, whatever cell is running
by then. The settled output replaces the live one by display id
(``update_display_data``), which a frontend applies to that display wherever
it is (JupyterLab does; a new output would need the right parent, and none is
made here). That one update is sent from an empty context, so it carries the
parent of the cell running at that moment: nbclient (nbval, nbconvert, our
``scripts/run_notebook.py``) reads only the running cell's messages and would
drop an update addressed to a cell that has finished, leaving the saved
notebook without the answer. One that settles between two cells, when none
runs, is missed that way too: ``%agent wait`` sends those once more.

Nothing from a background answer raises into whichever cell happens to run:
how it ended (an error, a drop, a stop) is said in its own output, as a note
under what arrived.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable
from typing import Any

from kagura_magic.errors import AgentError
from kagura_magic.llm import AsyncTextStream
from kagura_magic.views import Outcome, View
from kagura_magic.views.pump import Ending, pump

NEEDS_NOTEBOOK = (
    "--bg needs a notebook frontend (JupyterLab, Notebook, VS Code): in a terminal the answer "
    "streams in the foreground; run it without --bg."
)
WAIT_STEP = 0.1  # seconds: waits wake this often, so a kernel interrupt ends them


class AnswerNotReady(TimeoutError):
    """``result(timeout)`` ran out before the answer ended."""


class AnswerFailed(AgentError):
    """What ``result()`` raises for an answer that failed: its one or two lines, in IPython too."""

    def _render_traceback_(self) -> list[str]:
        first, *rest = self.user_message.splitlines() or ["failed"]
        return [f"\x1b[1m{first}\x1b[0m", *rest]


class BackgroundAnswer:
    """A background answer: what ``-o VAR`` holds until it ends (then its value replaces it).

    ``result()`` waits for it and returns its value (the answer text, or what
    ``-f`` made of it); an answer that failed raises its error there, one
    stopped or interrupted returns what had arrived. ``done()`` says whether
    it ended, ``stop()`` ends it as the Stop button does, ``text`` is what
    arrived so far.
    """

    def __init__(self, model: str, stream: AsyncTextStream, view: View) -> None:
        self.model = model
        self._stream = stream
        self._view = view
        self._ended = threading.Event()
        self._outcome: Outcome | None = None
        self._stop: Callable[[], None] | None = None
        self._stop_asked = False

    @property
    def text(self) -> str:
        return self._stream.text

    @property
    def outcome(self) -> Outcome | None:
        """How it ended (``None`` while it streams)."""
        return self._outcome

    def done(self) -> bool:
        return self._ended.is_set()

    def result(self, timeout: float | None = None) -> Any:
        if not wait_for([self], timeout):
            raise AnswerNotReady(f"the answer from {self.model} is still streaming")
        outcome = self._outcome
        assert outcome is not None
        if outcome.status in ("failed", "empty", "invalid"):
            raise AnswerFailed(outcome.message or "No answer.") from outcome.error
        return outcome.value if outcome.ok else outcome.text

    def stop(self) -> None:
        """End it now (from any thread): the connection closes, what arrived is kept."""
        self._stop_asked = True
        if self._stop is not None:
            self._stop()

    def __repr__(self) -> str:
        if self._outcome is None:
            return f"<background answer from {self.model}: streaming, {len(self.text):,} characters so far>"
        return f"<background answer from {self.model}: {self._outcome.status}, {len(self.text):,} characters>"

    # -- run by the thread -------------------------------------------------------------------
    def _offered(self, stop: Callable[[], None]) -> None:
        self._stop = stop
        if self._stop_asked:  # stop() came before the pump was ready
            stop()

    def _ended_as(self, outcome: Outcome) -> None:
        self._outcome = outcome
        self._ended.set()


class _Offering:
    """The view, as the pump sees it, also telling the answer how to stop it (for ``stop()``)."""

    def __init__(self, view: View, answer: BackgroundAnswer) -> None:
        self._view, self._answer = view, answer

    def offer_stop(self, stop: Callable[[], None]) -> None:
        self._answer._offered(stop)
        self._view.offer_stop(stop)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._view, name)


RUNNING: list[BackgroundAnswer] = []
"""Background answers of this kernel that have not ended, oldest first."""
ENDED: list[BackgroundAnswer] = []
"""Those that ended since the last ``wait_all``: their settled output is sent again there."""
_running_lock = threading.Lock()


def start(
    view: View,
    stream: AsyncTextStream,
    *,
    judge: Callable[[Ending], Outcome],
    on_end: Callable[[BackgroundAnswer, Outcome], None],
) -> BackgroundAnswer:
    """Stream ``stream`` into ``view`` (already started) on a thread of its own; return at once.

    ``judge`` turns how the read ended into an ``Outcome``; ``on_end`` runs on
    the thread once the view has settled (to set ``-o``, record history).
    """
    answer = BackgroundAnswer(stream.model, stream, view)
    view_for_pump: Any = _Offering(view, answer)

    def read() -> None:
        try:
            ending = pump(stream, view_for_pump)
        except BaseException as exc:  # a bug, not an answer's ending: still said in its own output
            ending = Ending(stream.text, error=exc, tool_calls=tuple(stream.tool_calls))
        outcome = judge(ending)
        try:
            contextvars.Context().run(view.settle, outcome)  # see the module docstring
        finally:
            with _running_lock:
                if answer in RUNNING:
                    RUNNING.remove(answer)
                ENDED.append(answer)
            answer._ended_as(outcome)
        on_end(answer, outcome)

    with _running_lock:
        RUNNING.append(answer)
    context = contextvars.copy_context()
    threading.Thread(target=context.run, args=(read,), name="kagura-background", daemon=True).start()
    return answer


def wait_for(answers: list[BackgroundAnswer], timeout: float | None = None) -> bool:
    """Wait until every one of ``answers`` ended (True), or ``timeout`` seconds passed (False).

    Waits in short steps, so a kernel interrupt (``KeyboardInterrupt``) ends the wait.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    for answer in answers:
        while not answer._ended.wait(WAIT_STEP):
            if deadline is not None and time.monotonic() >= deadline:
                return False
    return True


def wait_all() -> int:
    """Wait for every running answer; then send the settled output of each that ended since the
    last call once more, from the running cell (see the module docstring). How many there were."""
    wait_for(running())
    with _running_lock:
        ended, ENDED[:] = list(ENDED), []
    for answer in ended:
        show_again = getattr(answer._view, "show_settled_again", None)
        if show_again is not None:
            show_again()
    return len(ended)


def running() -> list[BackgroundAnswer]:
    with _running_lock:
        return list(RUNNING)
