"""One answer into any view: run the stream, judge how it ended, settle, say it once.

The magic, the CLI and ``show_stream`` all end an answer the same way, so the
rules live here and nowhere else:

* **interrupted** (Ctrl-C, a kernel interrupt, a cancelled task): what arrived
  stays, and the message says so (or that nothing had arrived yet);
* **stopped** (the view's Stop button): the same, but the user ended this
  answer only, so the settled output says it in its own line and the caller
  goes on as after an answer (no error, later cells run);
* **failed** (an ``AgentError``, before or during the stream): what arrived
  stays, the message is the error's one or two lines;
* **empty** (the provider ended normally with no text and no tool call): the
  message says why, from the finish reason (the token limit, a content filter);
* **invalid** (complete, but not in the ``-f`` format asked for);
* **complete**: the format's final form (``formats.finish``) and its value;
  an answer that is only tool calls is complete too, its value the empty
  text: the calls are shown as cards (``views/_calls.py``), never run.

Views only draw an ``Outcome``; callers only say its ``message`` in their own
place (the cell's error line, the CLI's stderr).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from kagura_magic.errors import AgentError
from kagura_magic.formats import FormatError, finish
from kagura_magic.llm import AsyncTextStream, StreamStats, no_text_error
from kagura_magic.secrets import mask
from kagura_magic.views import Outcome, Status, View, make_view
from kagura_magic.views.pump import Ending, apump, pump


def run(
    view: View,
    open_stream: Callable[[], AsyncTextStream],
    *,
    model: str,
    output_format: str = "markdown",
) -> Outcome:
    """Show ``view``, stream into it, settle it; return how it ended.

    ``open_stream`` is called after the view has started, so the spinner is
    on screen while the request is prepared (history trimming may need
    litellm's tokenizer, and its import, first).
    """
    view.start()
    stats: StreamStats | None = None
    try:
        stream = open_stream()
        stats = stream.stats
        ending = pump(stream, view)
    except KeyboardInterrupt:  # before the stream started
        ending = Ending(view.text, interrupted=True)
    except AgentError as error:  # a request that could not be made
        ending = Ending(view.text, error=error)
    outcome = judge(ending, model=model, stats=stats, output_format=output_format)
    view.settle(outcome)
    return outcome


def judge(
    ending: Ending,
    *,
    model: str,
    stats: StreamStats | None,
    output_format: str = "markdown",
    note_in_output: bool = False,
) -> Outcome:
    """The ``Outcome`` of a read that ended as ``ending`` (see the module docstring)."""
    text = ending.text

    def ended(status: Status, message: str | None = None, error: BaseException | None = None) -> Outcome:
        return Outcome(
            status,
            text,
            stats,
            message=message,
            error=error,
            note=message if note_in_output else None,
            output_format=output_format,
            tool_calls=ending.tool_calls,
        )

    if ending.stopped:
        message = interrupted_message(model, text, stats, verb="Stopped")
        return Outcome(
            "stopped", text, stats, message=message, note=message, output_format=output_format,
            value=text, tool_calls=ending.tool_calls,
        )  # fmt: skip
    if ending.interrupted:
        return ended("interrupted", interrupted_message(model, text, stats), ending.error)
    if ending.error is not None:
        message = str(ending.error) if isinstance(ending.error, AgentError) else _unexpected(ending.error)
        return ended("failed", message, ending.error)
    if not text and ending.tool_calls:
        return Outcome(
            "complete", "", stats, output_format=output_format, value="", tool_calls=ending.tool_calls
        )
    if not text:
        finish_reason = stats.finish_reason if stats is not None else None
        return ended("empty", str(no_text_error(model, finish_reason)) if stats is not None else None)
    try:
        finished = finish(output_format, text, stats.finish_reason if stats is not None else None)
    except FormatError as error:
        return ended("invalid", str(error), error)
    return Outcome(
        "complete",
        text,
        stats,
        rendering=finished.rendering,
        output_format=output_format,
        value=finished.value,
        next_cell=finished.next_cell,
        tool_calls=ending.tool_calls,
    )


def interrupted_message(
    model: str, text: str, stats: StreamStats | None = None, verb: str = "Interrupted"
) -> str:
    """What an interrupt (or a stop) did: nothing had arrived, or how much had and that it is kept."""
    if not text and stats is not None and stats.thinking_started is not None:
        return f"{verb} while {model} was still thinking, before any answer text arrived."
    if not text:
        return f"{verb} before any answer arrived from {model}."
    tokens = stats.completion_tokens if stats is not None else None
    amount = f"~{tokens:,} tokens" if tokens else f"{len(text):,} characters"
    if verb == "Interrupted":
        return f"Interrupted: {model} stopped after {amount}; the partial answer is kept above."
    return f"{verb} after {amount} from {model}; the partial answer is kept above."


def _unexpected(error: BaseException) -> str:
    """A caller's own iterator raised (``show_stream``): name it, as Python would, in one line."""
    return mask(f"The stream failed: {type(error).__name__}: {error}".rstrip(": "))


async def show_stream(pieces: AsyncIterator[str], label: str | None = None) -> str:
    """Render any async iterator of text live in the notebook; return the full text.

    Works with ``call_llm_stream``, ``@agent(stream=True)`` or your own
    generator. Frames are coalesced like ``%%agent`` and a pending frame is
    sent on time even while the iterator is quiet. On error or cancellation
    the view settles with what arrived and says so, then the exception
    propagates.
    """
    from IPython import get_ipython

    stats = getattr(pieces, "stats", None)
    name = label or getattr(stats, "model", None) or "stream"
    view = make_view(name, shell=get_ipython())
    view.start()
    ending = await apump(pieces, view)
    outcome = judge(ending, model=name, stats=stats, note_in_output=True)
    view.settle(outcome)
    if ending.error is not None:
        raise ending.error
    return outcome.text
