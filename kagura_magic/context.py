"""What a prompt can refer to: ``In``, ``Out``, ``Err``, ``cell(n)``, any variable.

``Err[n]`` is the traceback text of the error cell ``n`` raised, captured by
a ``post_run_cell`` hook; ``Err[-1]`` is the latest. ``cell(n)`` is cell
``n``'s source (``cell(-1)`` the previous one). Values rendered into a prompt
are summarised to a bounded size by type (``kagura_magic.summaries``): a
DataFrame becomes its shape, schema and first and last rows, a long list its
first items, each with a note saying what was cut, so ``{{ df }}`` never sends
a million rows to a model.
"""

from __future__ import annotations

import re
import traceback
from typing import TYPE_CHECKING, Any

from kagura_magic import summaries
from kagura_magic.summaries import MAX_CHARS as MAX_CHARS
from kagura_magic.summaries import MAX_ITEMS as MAX_ITEMS

if TYPE_CHECKING:
    from IPython.core.interactiveshell import ExecutionInfo, ExecutionResult, InteractiveShell

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


class ErrorLog:
    """Error tracebacks of cells: ``Err[n]`` by execution count, ``Err[-1]`` the latest.

    Kept by the extension itself rather than read from IPython's history,
    because some frontends run cells with ``store_history=False`` (no
    execution counts); negative indices work there too.
    """

    def __init__(self) -> None:
        self._entries: list[tuple[int | None, str, str]] = []  # (count, traceback, cell source)

    def add(self, number: int | None, text: str, source: str = "") -> None:
        self._entries.append((number, text, source))

    def __len__(self) -> int:
        return len(self._entries)

    def __bool__(self) -> bool:
        return bool(self._entries)

    def __getitem__(self, key: int) -> str:
        if key < 0:
            if -key > len(self._entries):
                raise KeyError(f"only {len(self._entries)} error(s) recorded so far")
            return self._entries[key][1]
        for number, text, _source in reversed(self._entries):
            if number == key:
                return text
        numbered = sorted({n for n, _, _ in self._entries if n is not None})
        raise KeyError(f"cell {key} raised no error (cells with errors: {numbered or 'none'})")

    def latest(self) -> tuple[int | None, str, str] | None:
        """(execution count, traceback, source) of the latest failing cell."""
        return self._entries[-1] if self._entries else None

    def __repr__(self) -> str:
        numbers = [n if n is not None else "?" for n, _, _ in self._entries]
        return f"<Err: tracebacks of {len(self._entries)} failed cell(s) {numbers}; Err[-1] is the latest>"


class CellLog:
    """Sources of the cells run since the extension loaded, with their execution counts."""

    def __init__(self) -> None:
        self.entries: list[tuple[int | None, str]] = []

    def source(self, n: int, running: bool = True) -> str:
        """Cell ``n`` by execution count, or counting back (``-1``: the cell before this one)."""
        finished = self.entries[:-1] if running and self.entries else self.entries
        if n < 0:
            if -n > len(finished):
                raise IndexError(f"there is no cell {n}: {len(finished)} cell(s) ran before this one")
            return finished[n][1]
        for number, text in reversed(finished):
            if number == n:
                return text
        raise IndexError(f"there is no cell {n} (run cells are numbered by their In[n] prompt)")

    def number_of_latest(self) -> int | None:
        return self.entries[-1][0] if self.entries else None


def format_error(error: BaseException, cell_names: dict[str, int] | None = None) -> str:
    """The traceback text, as a reader of the notebook would name things.

    Cells are called ``Cell In[n]`` (IPython's own wording) instead of their
    temporary file paths, which mean nothing to a model and change every run.
    """
    lines = traceback.format_exception(type(error), error, error.__traceback__)
    text = "".join(line for line in lines if "IPython/core/interactiveshell.py" not in line)
    for filename, number in (cell_names or {}).items():
        text = text.replace(f'File "{filename}"', f"Cell In[{number}]")
    return strip_ansi(text).strip()


_RECORDER = "_kagura_context"  # on the shell: (ErrorLog, CellLog), one pair however often loaded


def install(shell: InteractiveShell, ignore: tuple[type[BaseException], ...] = ()) -> ErrorLog:
    """Add ``Err`` and ``cell`` to the user namespace and start recording cells and errors.

    ``ignore``: error types that are not about the user's code (a model call
    that failed), so ``Err[-1]`` and ``%agent fix`` keep pointing at real bugs.
    """
    recorder: tuple[ErrorLog, CellLog] | None = getattr(shell, _RECORDER, None)
    if recorder is not None:  # %reload_ext: keep one recorder
        errors, cells = recorder
    else:
        errors, cells = ErrorLog(), CellLog()
        setattr(shell, _RECORDER, (errors, cells))

        def before(info: ExecutionInfo) -> None:
            cells.entries.append((None, getattr(info, "raw_cell", "") or ""))

        def after(result: ExecutionResult) -> None:
            number = result.execution_count
            if number is None:  # IPython 8 leaves it unset when history is off; 9 gives the counter
                number = getattr(shell, "execution_count", None)
            if cells.entries:
                cells.entries[-1] = (number, cells.entries[-1][1])
            error = result.error_in_exec or result.error_before_exec
            if error is None or isinstance(error, ignore):
                return
            names = getattr(getattr(shell, "compile", None), "_filename_map", None) or {}
            errors.add(number, format_error(error, names), cells.entries[-1][1] if cells.entries else "")

        shell.events.register("pre_run_cell", before)
        shell.events.register("post_run_cell", after)
    shell.user_ns["Err"] = errors
    shell.user_ns["cell"] = cells.source
    shell.user_ns["_kagura_cells"] = cells
    return errors


def summarise(value: Any, limit: int = MAX_CHARS) -> str:
    """A prompt-sized text for ``value``, at most ``limit`` characters, with a note when something was cut.

    Kept here, where templates have always found it; the summaries by type
    (frames, arrays, errors, collections) live in :mod:`kagura_magic.summaries`.
    """
    return summaries.summarise(value, limit)
