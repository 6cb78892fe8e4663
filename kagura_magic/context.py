"""What a prompt can refer to: ``In``, ``Out``, ``Err``, ``cell(n)``, any variable.

``Out[n]`` in a prompt is what cell ``n`` showed: its value and the pictures
it displayed (a plot drawn by matplotlib's inline backend is displayed, not
returned, so the hook on the kernel's display publisher keeps them, the
latest ``_KEPT_CELLS`` cells' worth). ``Out[-1]`` is the latest cell that
showed something.

``Err[n]`` is the traceback text of the error cell ``n`` raised, captured by
a ``post_run_cell`` hook; ``Err[-1]`` is the latest. ``cell(n)`` is cell
``n``'s source (``cell(-1)`` the previous one). Values rendered into a prompt
are summarised to a bounded size by type (``kagura_magic.summaries``): a
DataFrame becomes its shape, schema and first and last rows, a long list its
first items, each with a note saying what was cut, so ``{{ df }}`` never sends
a million rows to a model.
"""

from __future__ import annotations

import base64
import binascii
import re
import traceback
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kagura_magic import summaries
from kagura_magic.errors import TemplateError
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


_KEPT_CELLS = 64  # cells whose displayed pictures are kept for Out[n]
_KEPT_PER_CELL = 8
_PICTURE_TYPES = ("image/png", "image/jpeg")


class DisplayedImages:
    """The pictures each cell displayed (``image/png``, ``image/jpeg``), by execution count.

    Held as the running cell's until it ends, then filed under its number: the
    inline backend draws after the cell's code, when IPython may already have
    moved its counter on, and only ``post_run_cell`` says the cell's number.
    """

    def __init__(self) -> None:
        self._running: list[bytes] = []
        self._by_cell: dict[int, list[bytes]] = {}

    def start_cell(self) -> None:
        self._running = []

    def end_cell(self, number: int | None) -> None:
        if number is not None and self._running:
            self._by_cell.pop(number, None)
            self._by_cell[number] = self._running
            while len(self._by_cell) > _KEPT_CELLS:
                del self._by_cell[next(iter(self._by_cell))]
        self._running = []

    def hook(self, message: dict[str, Any]) -> dict[str, Any]:
        """ipykernel's display-publisher hook: note a picture, pass every message on unchanged."""
        try:
            if message.get("msg_type") == "display_data":
                self._note(message.get("content", {}).get("data") or {})
        except Exception:  # never let a note stop the user's output
            pass
        return message

    def _note(self, data: Mapping[str, Any]) -> None:
        for mime in _PICTURE_TYPES:
            encoded = data.get(mime)
            if isinstance(encoded, str):
                try:
                    picture = base64.b64decode(encoded)
                except (binascii.Error, ValueError):
                    return
                if len(self._running) < _KEPT_PER_CELL:
                    self._running.append(picture)
                return  # one picture per display, in its best type

    def of(self, number: int) -> list[bytes]:
        return list(self._by_cell.get(number, ()))

    def cells(self) -> list[int]:
        return list(self._by_cell)


@dataclass(frozen=True)
class ShownOutput:
    """What a cell showed, for ``{{ Out[n] }}``: its value (None when only its pictures matter)."""

    value: Any
    pictures: tuple[bytes, ...]
    number: int


_MISSING = object()


class CellOutputs(Mapping[int, Any]):
    """``Out`` as a prompt reads it: each cell's value with the pictures it displayed."""

    def __init__(self, values: Mapping[int, Any], shown: DisplayedImages | None) -> None:
        self._values = values  # IPython's Out: the running cell is in neither, until it ends
        self._shown = shown

    def _numbers(self) -> list[int]:
        numbers = set(self._values) | set(self._shown.cells() if self._shown else ())
        return sorted(n for n in numbers if isinstance(n, int))

    def __iter__(self) -> Iterator[int]:
        return iter(self._numbers())

    def __len__(self) -> int:
        return len(self._numbers())

    def __contains__(self, key: object) -> bool:
        return key in self._numbers()

    def get(self, key: int, default: Any = None) -> Any:
        try:
            return self[key]
        except TemplateError:  # what a missing cell raises here, to be said in one line
            return default

    def __getitem__(self, key: int) -> Any:
        numbers = self._numbers()
        if not isinstance(key, int):
            raise TemplateError(f"Out[{key!r}]: cells are numbered by their In[n] prompt.")
        if key < 0:
            if -key > len(numbers):
                raise TemplateError(f"Out[{key}]: only {len(numbers)} cell(s) showed an output so far.")
            key = numbers[key]
        if key not in numbers:
            raise TemplateError(
                f"Out[{key}]: cell {key} showed no output "
                f"(cells with output: {', '.join(map(str, numbers[-10:])) or 'none'})."
            )
        value = self._values.get(key, _MISSING)
        pictures = tuple(self._shown.of(key)) if self._shown else ()
        if not pictures:
            return value
        from kagura_magic.images import as_image

        drawn = value is _MISSING or value is None or as_image(value) is not None
        return ShownOutput(None if drawn else value, pictures, key)


_RECORDER = "_kagura_context"  # on the shell: (ErrorLog, CellLog), one pair however often loaded


def install(shell: InteractiveShell, ignore: tuple[type[BaseException], ...] = ()) -> ErrorLog:
    """Add ``Err`` and ``cell`` to the user namespace and start recording cells and errors.

    ``ignore``: error types that are not about the user's code (a model call
    that failed), so ``Err[-1]`` and ``%agent fix`` keep pointing at real bugs.
    """
    recorder: tuple[ErrorLog, CellLog, DisplayedImages] | None = getattr(shell, _RECORDER, None)
    if recorder is not None and len(recorder) == 3:  # %reload_ext: keep one recorder
        errors, cells, shown = recorder
    else:
        errors, cells, shown = ErrorLog(), CellLog(), DisplayedImages()
        setattr(shell, _RECORDER, (errors, cells, shown))
        register_hook = getattr(getattr(shell, "display_pub", None), "register_hook", None)
        if register_hook is not None:  # ipykernel's publisher; terminal IPython shows no pictures
            register_hook(shown.hook)

        def before(info: ExecutionInfo) -> None:
            cells.entries.append((None, getattr(info, "raw_cell", "") or ""))
            shown.start_cell()

        def after(result: ExecutionResult) -> None:
            number = result.execution_count
            if number is None:  # IPython 8 leaves it unset when history is off; 9 gives the counter
                number = getattr(shell, "execution_count", None)
            if cells.entries:
                cells.entries[-1] = (number, cells.entries[-1][1])
            shown.end_cell(number)
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


def cell_outputs(shell: Any) -> CellOutputs:
    """``Out`` for the running cell's prompt (see ``CellOutputs``)."""
    recorder = getattr(shell, _RECORDER, None)
    values = getattr(shell, "user_ns", {}).get("Out", {})
    shown = recorder[2] if recorder else None
    return CellOutputs(values if isinstance(values, Mapping) else {}, shown)


def summarise(value: Any, limit: int = MAX_CHARS) -> str:
    """A prompt-sized text for ``value``, at most ``limit`` characters, with a note when something was cut.

    Kept here, where templates have always found it; the summaries by type
    (frames, arrays, errors, collections) live in :mod:`kagura_magic.summaries`.
    """
    return summaries.summarise(value, limit)
