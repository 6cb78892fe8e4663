"""A notebook value as bounded prompt text, chosen by the value's type.

``{{ df }}`` in a prompt must neither send a million rows to a model nor an
opaque ``<object at 0x…>``: each value becomes what a data scientist would tell
a colleague about it. A frame is its shape, schema (dtypes, null counts), first
and last rows and short numeric statistics; an array its shape, dtype and
statistics; an error its type, message and last traceback frames; a long text
its start and its end; a dict or list its first items, recursively.

The bound is ``limit`` characters, the unit the rest of the package measures
prompts in before a tokenizer is known: about ``CHARS_PER_TOKEN`` (4) per
token, so the default ``MAX_CHARS`` (4,000) is about 1,000 tokens. The whole
summary, notes included, is at most ``limit`` characters. The richest layout is
tried first and detail is dropped step by step until it fits; whatever is left
out is named in a ``… [cut: …]`` line.

pandas, polars and NumPy are never imported here. A value's classes say which
library it comes from, and that library is then already loaded (it made the
value), so it is taken from ``sys.modules``: summarising a dict costs no import,
and ``import kagura_magic`` stays fast.

An object chooses its own summary by defining ``__llm_repr__()`` or
``_repr_llm_()`` (named like IPython's ``_repr_html_``); the text it returns is
bounded like any other.
"""

from __future__ import annotations

import collections
import heapq
import itertools
import math
import sys
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

CHARS_PER_TOKEN = 4
MAX_TOKENS = 1_000
MAX_CHARS = MAX_TOKENS * CHARS_PER_TOKEN
MAX_ITEMS = 50  # of a list, dict or set at the top level
MAX_FRAMES = 3  # of a traceback, the last ones: where the error was raised
STATS_SAMPLE = 1_000_000  # array values; past this, statistics come from an evenly spaced sample
_OWN_REPRS = ("__llm_repr__", "_repr_llm_")
_LIBRARIES = ("pandas", "polars", "numpy")
_STATS = ("mean", "std", "min", "median", "max")
_SNAP = 120  # a cut moves this far at most to fall on a line break
_CONTAINERS = (list, tuple, set, frozenset, dict, collections.deque)


def summarise(value: Any, limit: int = MAX_CHARS) -> str:
    """``value`` as prompt text of at most ``limit`` characters (about 4 a token), noting any cut."""
    own = _own_hook(value)
    if own is None:
        return _default(value, limit)
    try:
        return _fit(_call_own(value, own), limit)
    except Exception as error:  # a user's hook may fail in any way; the prompt must still render
        note = f"[note: {own}() raised {_error_line(error, 120)}; this is the default summary]"
        return _noted(note, limit, lambda room: _default(value, room))


def _own_hook(value: Any) -> str | None:
    """The hook ``value``'s class defines to summarise itself, if any.

    Looked up on the class, so objects that answer every attribute (mocks,
    proxies) are not mistaken for ones with a hook, and a class is not asked
    to run its instances' method.
    """
    for name in _OWN_REPRS:
        if getattr(type(value), name, None) is not None:
            return name
    return None


def _call_own(value: Any, name: str) -> str:
    chosen = getattr(value, name)
    return str(chosen() if callable(chosen) else chosen)


def _default(value: Any, limit: int) -> str:
    """The summary by type.

    Errors the value raises when probed (a template's undefined name, a
    property that fails) propagate, so the template reports them; only a
    library summary that fails on an exotic subclass falls back to the repr.
    """
    if isinstance(value, str):
        return _fit(value, limit)
    if isinstance(value, bytes | bytearray):
        return _bytes(value, limit)
    if isinstance(value, BaseException):
        return _exception(value, limit)
    library = _library_of(value)
    if library is not None:
        summary = _library_summary(library, value, limit)
        if summary is not None:
            return summary
    if isinstance(value, _CONTAINERS):
        return _collection(value, limit)
    if _looks_like_frame(value):
        return _duck_frame(value, limit)
    return _fit(_repr(value), limit)


def _library_summary(library: tuple[str, Any], value: Any, limit: int) -> str | None:
    name, module = library
    try:
        return _LIBRARY_SUMMARIES[name](module, value, limit)
    except Exception as error:  # a subclass or version that does not behave as its base: still render
        failed = f"summarising a {type(value).__name__} raised {_error_line(error, 120)}"
        note = f"[note: {failed}; this is its repr]"
        return _noted(note, limit, lambda room: _fit(_repr(value), room))


def _library_of(value: Any) -> tuple[str, Any] | None:
    """``("pandas", <module pandas>)`` for a value made by pandas (or a subclass of a pandas type), etc."""
    for cls in type(value).__mro__:
        root = cls.__module__.partition(".")[0]
        if root in _LIBRARIES and root in sys.modules:
            return root, sys.modules[root]
    return None


# -- bounding ---------------------------------------------------------------------------------
def _fit(text: str, limit: int) -> str:
    """``text`` cut in the middle to ``limit`` characters, note included.

    The middle, because the start says what a text is and the end how it
    ended (a log's last lines, a traceback's error, a summary's own notes).
    Cuts move to a nearby line break so no line is left half shown.
    """
    total = len(text)
    if total <= limit:
        return text
    room = limit - len(_cut_characters(total, total, total)) - 2
    if room < 2:  # too small for a note: the bound wins
        return text[:limit]
    head = _snap_back(text, (room + 1) // 2)
    tail = _snap_forward(text, total - room // 2)
    return f"{text[:head]}\n{_cut_characters(head, tail + 1, total)}\n{text[tail:]}"


def _cut_characters(head: int, tail_start: int, total: int) -> str:
    return f"… [cut: showing characters 1–{head:,} and {tail_start:,}–{total:,} of {total:,}]"


def _snap_back(text: str, end: int) -> int:
    newline = text.rfind("\n", max(0, end - _SNAP), end)
    return newline if newline > 0 else end


def _snap_forward(text: str, start: int) -> int:
    newline = text.find("\n", start, start + _SNAP)
    return newline + 1 if 0 <= newline < len(text) - 1 else start


def _first_fit(texts: Iterable[str], limit: int) -> str:
    """The first of ``texts`` (richest first) within ``limit``; else the last one, cut to fit."""
    text = ""
    for text in texts:
        if len(text) <= limit:
            return text
    return _fit(text, limit)


def _noted(note: str, limit: int, summary: Callable[[int], str]) -> str:
    """``summary`` in the room ``note`` leaves of ``limit``, then the note."""
    room = limit - len(note) - 1
    return f"{summary(room)}\n{note}" if room > 0 else _fit(note, limit)


def _cut(what: str) -> str:
    return f"… [cut: {what}]"


def _ends(total: int, each: int) -> list[int]:
    """Positions of the first and last ``each`` of ``total`` (all of them when that is no fewer)."""
    if total <= 2 * each:
        return list(range(total))
    return [*range(each), *range(total - each, total)]


def _showing(noun: str, each: int, total: int) -> str:
    """``showing rows 1–5 and 996–1,000 of 1,000``: the wording of every cut of a frame or array."""
    return f"showing {noun} {_span(1, each)} and {_span(total - each + 1, total)} of {total:,}"


def _span(first: int, last: int) -> str:
    return f"{first:,}" if first == last else f"{first:,}–{last:,}"


def _count(number: int, noun: str, plural: str = "") -> str:
    return f"{number:,} {noun}" if number == 1 else f"{number:,} {plural or noun + 's'}"


def _clip(text: str, width: int) -> str:
    """One line of at most ``width`` characters, for a name or value in a table."""
    line = text.replace("\n", "\\n")
    return line if len(line) <= width else line[: max(width - 1, 0)] + "…"


def _repr(value: Any) -> str:
    try:
        return repr(value)
    except Exception as error:
        return f"<{type(value).__name__} object; repr() raised {type(error).__name__}>"


def _error_line(error: BaseException, width: int) -> str:
    message = str(error)
    return _clip(f"{type(error).__name__}: {message}" if message else type(error).__name__, width)


def _value(value: Any) -> str:
    """A cell value as a reader expects it: strings quoted, dates and numbers plain."""
    return repr(value) if isinstance(value, str) else str(value)


def _number(value: Any) -> str:
    """A statistic in a few significant digits; whole numbers without a decimal point."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "–" if value is None else str(value)
    if math.isnan(number) or math.isinf(number):
        return str(number)
    if number.is_integer() and abs(number) < 1e15:
        return str(int(number))
    return f"{number:.5g}"


def _quietly(compute: Callable[[], str | None]) -> str | None:
    """A detail that may fail on odd data (unhashable objects in a column): left out rather than fatal."""
    try:
        return compute()
    except Exception:
        return None


# -- text, bytes, errors ----------------------------------------------------------------------
def _bytes(value: bytes | bytearray, limit: int) -> str:
    """The repr if it fits; else the first and last bytes (a file header and its end), in repr form."""
    whole = repr(value)
    total = len(value)
    if len(whole) <= limit:
        return whole
    each = max((limit - 200) // 8, 1)  # a byte is at most 4 characters (\xNN) in a repr
    return _fit(
        f"{type(value).__name__} of length {total:,}\n{bytes(value[:each])!r}\n"
        f"{_cut(_showing('bytes', each, total))}\n{bytes(value[-each:])!r}",
        limit,
    )


def _exception(error: BaseException, limit: int) -> str:
    frames = traceback.extract_tb(error.__traceback__)
    return _first_fit((_exception_text(error, frames, keep) for keep in (MAX_FRAMES, 1, 0)), limit)


def _exception_text(error: BaseException, frames: traceback.StackSummary, keep: int) -> str:
    """Python's own layout, with only the last ``keep`` frames: where the error was raised."""
    shown = frames[len(frames) - keep :] if keep else []
    lines = ["Traceback (most recent call last):"] if shown else []
    lines += [line.rstrip() for chunk in traceback.format_list(shown) for line in chunk.splitlines()]
    lines.append("".join(traceback.format_exception_only(type(error), error)).strip())
    lines += _chain(error)
    if len(frames) > keep:
        cut = f"showing the last {keep} of {len(frames)} frames" if keep else f"{len(frames)} frames left out"
        lines.append(_cut(cut))
    return "\n".join(lines)


def _chain(error: BaseException) -> list[str]:
    """The errors this one came from, one line each: often the real cause (a KeyError under a ValueError)."""
    lines: list[str] = []
    seen = {id(error)}
    current = error
    for _ in range(3):
        earlier = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
        if earlier is None or id(earlier) in seen:
            break
        how = "caused by" if current.__cause__ is not None else "raised while handling"
        lines.append(f"{how} {_error_line(earlier, 200)}")
        seen.add(id(earlier))
        current = earlier
    return lines


# -- dicts, lists, tuples, sets ---------------------------------------------------------------
@dataclass
class _Walk:
    """The bounds of one try at a nested collection, and what that try had to shorten."""

    items: int  # per collection
    depth: int  # collections inside collections
    leaf: int  # characters per value
    shortened: int = 0  # nested collections shown in part
    clipped: int = 0  # values cut to ``leaf`` characters
    flattened: int = 0  # collections deeper than ``depth``, shown as their size
    own_failed: int = 0  # values whose __llm_repr__() raised
    open: set[int] = field(default_factory=set)  # ids on the current path: a list that contains itself


_WALKS = ((MAX_ITEMS, 4, 300), (20, 3, 120), (10, 2, 60), (5, 1, 40))


def _collection(value: Any, limit: int) -> str:
    return _first_fit((_collection_text(value, _Walk(*bounds)) for bounds in _WALKS), limit)


def _collection_text(value: Any, walk: _Walk) -> str:
    """Python's notation, shortened: top-level cuts get a note, nested ones say ``… N more`` in place."""
    lines = [_container(value, walk, 1)]
    if len(value) > walk.items:
        order = ", in sorted order" if _sorted(value) else ""
        kind = type(value).__name__
        article = "an" if kind[0].lower() in "aeiou" else "a"
        lines.append(_cut(f"first {walk.items} of {len(value):,} items of {article} {kind}{order}"))
    nested = _nested_cuts(walk)
    if nested:
        lines.append(_cut(nested))
    return "\n".join(lines)


def _nested_cuts(walk: _Walk) -> str:
    parts = []
    if walk.shortened:
        parts.append(f"{_count(walk.shortened, 'nested collection')} cut to {walk.items} items")
    if walk.clipped:
        parts.append(f"{_count(walk.clipped, 'value')} shortened to {walk.leaf} characters")
    if walk.flattened:
        parts.append(f"collections nested deeper than {walk.depth} shown as their size")
    if walk.own_failed:
        parts.append(f"{_count(walk.own_failed, 'value')} whose own summary raised shown by repr")
    return "; ".join(parts)


def _container(value: Any, walk: _Walk, depth: int) -> str:
    if id(value) in walk.open:
        return _brackets(value, "...")  # Python's own mark for a collection inside itself
    if depth > walk.depth:
        walk.flattened += 1
        return _brackets(value, f"… {_count(len(value), 'item')}")
    walk.open.add(id(value))
    try:
        shown = _first_items(value, walk.items)
        if isinstance(value, dict):
            parts = [f"{_inline(k, walk, depth)}: {_inline(v, walk, depth)}" for k, v in shown]
        elif _fields(value):  # a namedtuple
            parts = [
                f"{name}={_inline(v, walk, depth)}" for name, v in zip(_fields(value), shown, strict=False)
            ]
        else:
            parts = [_inline(item, walk, depth) for item in shown]
    finally:
        walk.open.discard(id(value))
    if len(value) > len(shown):
        if depth > 1:
            walk.shortened += 1
        parts.append("…" if depth == 1 else f"… {len(value) - len(shown):,} more")
    return _brackets(value, ", ".join(parts))


def _first_items(value: Any, count: int) -> list[Any]:
    """The items to show: a dict's first pairs, a set's smallest items (its own order means nothing)."""
    if isinstance(value, dict):
        return list(itertools.islice(value.items(), count))
    if _sorted(value):
        return heapq.nsmallest(count, value)
    return list(itertools.islice(value, count))


def _sorted(value: Any) -> bool:
    if not isinstance(value, set | frozenset):
        return False
    try:
        heapq.nsmallest(2, value)
    except (TypeError, ValueError):  # items of mixed types
        return False
    return True


def _fields(value: Any) -> tuple[str, ...]:
    """A namedtuple's field names (empty for anything else), so it reads ``Point(x=1, y=2)``."""
    fields = getattr(type(value), "_fields", ()) if isinstance(value, tuple) else ()
    return tuple(str(name) for name in fields) if isinstance(fields, tuple) else ()


def _brackets(value: Any, inner: str) -> str:
    kind = type(value)
    if kind is list:
        return f"[{inner}]"
    if kind is tuple:
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if kind is dict:
        return f"{{{inner}}}"
    if kind is set:
        return f"{{{inner}}}" if inner else "set()"
    if _fields(value):
        return f"{kind.__name__}({inner})"
    if isinstance(value, dict | set | frozenset):
        return f"{kind.__name__}({{{inner}}})" if inner else f"{kind.__name__}()"
    return f"{kind.__name__}([{inner}])"


def _inline(value: Any, walk: _Walk, depth: int) -> str:
    """One value inside a collection: Python notation where short, a one-line description otherwise."""
    if isinstance(value, _CONTAINERS) and _own_hook(value) is None:
        return _container(value, walk, depth + 1)
    text = _leaf(value, walk)
    if len(text) <= walk.leaf:
        return text
    walk.clipped += 1
    each = max((walk.leaf - 1) // 2, 1)
    return f"{text[:each]}…{text[-each:]}"


def _leaf(value: Any, walk: _Walk) -> str:
    own = _own_hook(value)
    if own is not None:
        try:
            return _call_own(value, own)
        except Exception:
            walk.own_failed += 1
    if isinstance(value, str | bytes | bytearray | BaseException):
        return _repr(value)
    library = _library_of(value)
    if library is not None:
        short = _quietly(lambda: _SHORT_DESCRIPTIONS[library[0]](library[1], value))
        if short is not None:
            return short
    return _repr(value)


# -- frame-like objects from elsewhere (dask, modin, …) -----------------------------------------
def _looks_like_frame(value: Any) -> bool:
    has_shape = getattr(value, "shape", None) is not None
    return has_shape and hasattr(value, "head") and hasattr(value, "to_string")


def _duck_frame(frame: Any, limit: int) -> str:
    """Shape, columns and first rows, read through the methods every DataFrame-like library offers."""
    rows = frame.shape[0] if frame.shape else 0
    columns = getattr(frame, "columns", None)
    described = f"{type(frame).__name__} with shape {tuple(frame.shape)}"
    if columns is not None:
        described += f", columns {list(columns)[:MAX_ITEMS]}"
    note = f"\n{_cut(f'first 10 of {rows:,} rows')}" if rows > 10 else ""
    return _fit(f"{described}\n{frame.head(10).to_string()}{note}", limit)


# -- pandas and polars frames -----------------------------------------------------------------
@dataclass(frozen=True)
class _Detail:
    """How much of a frame, series or array to show; summaries try these in order until one fits."""

    rows: int  # at each end
    columns: int  # at most: the first half and the last half
    width: int  # characters per name or cell
    stats: bool


_DETAILS = (
    _Detail(rows=5, columns=20, width=40, stats=True),
    _Detail(rows=3, columns=10, width=25, stats=True),
    _Detail(rows=2, columns=6, width=20, stats=False),
    _Detail(rows=1, columns=4, width=12, stats=False),
)


@dataclass(frozen=True)
class _Column:
    """What the schema says about one column, computed once for every level of detail."""

    name: str
    dtype: str
    nulls: int
    detail: str | None  # a date range, the categories, the number of distinct values, NaN
    stats: tuple[str, ...] | None  # _STATS, for numeric columns


@dataclass(frozen=True)
class _Frame:
    """A pandas or polars frame, read once; ``_frame_text`` lays it out at any level of detail."""

    title: str
    rows: int
    width: int  # number of columns
    columns: dict[int, _Column]  # by position: those the richest level shows
    table: Callable[[list[int], _Detail], str]  # the rows at both ends, of the columns at these positions
    lines: tuple[str, ...] = ()  # the index, for pandas


def _summarise_frame(frame: _Frame, limit: int) -> str:
    return _first_fit((_frame_text(frame, detail) for detail in _DETAILS), limit)


def _frame_text(frame: _Frame, detail: _Detail) -> str:
    positions = _ends(frame.width, detail.columns // 2)
    columns = [frame.columns[p] for p in positions]
    lines = [frame.title, *frame.lines, _nulls_header(columns, frame.width)]
    lines += _schema(columns, positions, detail.width)
    if frame.rows and positions:
        lines += ["rows:", frame.table(positions, detail)]
    numeric = [column for column in columns if column.stats]
    if numeric and detail.stats and frame.rows:
        table = [["", *_STATS]] + [[_clip(c.name, detail.width), *(c.stats or ())] for c in numeric]
        lines += ["numeric columns:", *_aligned(table)]
    if frame.rows > 2 * detail.rows:
        lines.append(_cut(_showing("rows", detail.rows, frame.rows)))
    if frame.width > len(positions):
        lines.append(_cut(_showing("columns", detail.columns // 2, frame.width)))
    if numeric and not detail.stats and frame.rows:
        lines.append(_cut("numeric column statistics left out to fit"))
    return "\n".join(lines)


def _nulls_header(columns: list[_Column], width: int) -> str:
    shown = "" if len(columns) == width else " in the columns shown"
    total = sum(column.nulls for column in columns)
    if not total:
        return f"schema (no nulls{shown}):"
    with_nulls = sum(1 for column in columns if column.nulls)
    return f"schema ({_count(total, 'null')} in {_count(with_nulls, 'column')}{shown}):"


def _schema(columns: Sequence[_Column], positions: Sequence[int], width: int) -> list[str]:
    """One aligned line per column: name, dtype, then nulls and detail where there are any."""
    rows = []
    for column in columns:
        extra = [_count(column.nulls, "null")] if column.nulls else []
        extra += [column.detail] if column.detail else []
        rows.append([_clip(column.name, width), _clip(column.dtype, width), ", ".join(extra)])
    lines = _aligned(rows, numbers=False)
    for at in reversed(range(1, len(positions))):
        if positions[at] - positions[at - 1] > 1:
            lines.insert(at, "  …")
    return lines


def _aligned(rows: list[list[str]], numbers: bool = True) -> list[str]:
    """A plain-text table: the first column left-aligned, the rest right-aligned if they are ``numbers``."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))] if rows else []
    lines = []
    for row in rows:
        cells = [row[0].ljust(widths[0])]
        cells += [
            cell.rjust(w) if numbers else cell.ljust(w) for cell, w in zip(row[1:], widths[1:], strict=True)
        ]
        lines.append("  " + "  ".join(cells).rstrip())
    return lines


def _stats(column: Any) -> tuple[str, ...] | None:
    """Mean, std, min, median and max through the methods pandas and polars series share."""
    try:
        return tuple(_number(getattr(column, name)()) for name in _STATS)
    except Exception:
        return None


def _series_text(
    title: str,
    lines: Sequence[str],
    column: _Column,
    rows: int,
    table: Callable[[_Detail], str],
    detail: _Detail,
) -> str:
    """A pandas or polars series: its title, statistics or detail, and the values at both ends."""
    text = [title, *lines]
    if column.stats and detail.stats:
        text.append(
            "stats: " + ", ".join(f"{name} {v}" for name, v in zip(_STATS, column.stats, strict=True))
        )
    if column.detail:
        text.append(f"values: {column.detail}")
    if rows:
        text.append(table(detail))
    if rows > 2 * detail.rows:
        text.append(_cut(_showing("rows", detail.rows, rows)))
    return "\n".join(text)


def _series_title(library: str, series: Any, column: _Column) -> str:
    name = f" {series.name!r}" if series.name is not None and series.name != "" else ""
    nulls = _count(column.nulls, "null") if column.nulls else "no nulls"
    return f"{library} {type(series).__name__}{name}: {len(series):,} values, dtype {column.dtype}, {nulls}"


def _categories(values: list[Any], total: int, noun: str, plural: str = "") -> str:
    shown = ", ".join(_clip(_value(v), 30) for v in values[:5])
    return f"{_count(total, noun, plural)}: {shown}{', …' if total > 5 else ''}"


# -- pandas -----------------------------------------------------------------------------------
def _pandas(pd: Any, value: Any, limit: int) -> str | None:
    if isinstance(value, pd.DataFrame):
        return _summarise_frame(_pandas_frame(pd, value), limit)
    if isinstance(value, pd.Series):
        return _pandas_series(pd, value, limit)
    return None


def _pandas_frame(pd: Any, frame: Any) -> _Frame:
    rows, width = frame.shape
    richest = _ends(width, _DETAILS[0].columns // 2)
    columns = {p: _pandas_column(pd, frame.columns[p], frame.iloc[:, p]) for p in richest}

    def table(positions: list[int], detail: _Detail) -> str:
        picked = _ends(rows, detail.rows)  # rows first: never copy a million rows to show ten
        text = frame.iloc[picked, positions].to_string(max_colwidth=detail.width)
        return _with_gap(text, len(picked), detail.rows, rows)

    title = f"pandas {type(frame).__name__}: {_count(rows, 'row')} × {_count(width, 'column')}"
    return _Frame(title, rows, width, columns, table, (_pandas_index(frame.index),))


def _pandas_series(pd: Any, series: Any, limit: int) -> str:
    column = _pandas_column(pd, series.name, series)
    title = _series_title("pandas", series, column)
    rows = len(series)

    def table(detail: _Detail) -> str:
        picked = _ends(rows, detail.rows)
        text = series.iloc[picked].to_frame().to_string(header=False, max_colwidth=detail.width)
        return _with_gap(text, len(picked), detail.rows, rows)

    lines = [_pandas_index(series.index)]
    return _first_fit((_series_text(title, lines, column, rows, table, d) for d in _DETAILS), limit)


def _with_gap(text: str, shown: int, each: int, total: int) -> str:
    """Mark where the middle rows were left out: pandas prints the rows it is given without a gap."""
    lines = [line.rstrip() for line in text.splitlines()]
    top = len(lines) - shown  # header lines
    if total <= shown or top < 0:
        return "\n".join(lines)
    return "\n".join([*lines[: top + each], "…", *lines[top + each :]])


def _pandas_index(index: Any) -> str:
    """The index in one line: its kind, name and first and last labels (a date range, an id range)."""
    kind = type(index).__name__
    if not len(index):
        return f"index: {kind}, empty"
    if kind == "RangeIndex" and index.step == 1:
        return f"index: RangeIndex {index.start} to {index.stop - 1}"
    names = ", ".join(str(name) for name in index.names if name is not None)
    named = f" {names}" if names else ""
    unique = "" if index.is_unique else ", with duplicates"
    first, last = _clip(_label(index[0]), 40), _clip(_label(index[-1]), 40)
    return f"index: {kind}{named} ({index.dtype}), {first} to {last}{unique}"


def _label(label: Any) -> str:
    """An index label; a MultiIndex one as ``('EU', 2020)``, without numpy's ``np.int64(…)`` wrappers."""
    if isinstance(label, tuple):
        return f"({', '.join(_value(part) for part in label)})"
    return _value(label)


def _pandas_column(pd: Any, name: Any, series: Any) -> _Column:
    types = pd.api.types
    dtype = series.dtype
    stats = detail = None
    if types.is_bool_dtype(dtype):
        detail = _quietly(lambda: f"{int(series.sum()):,} true")
    elif types.is_numeric_dtype(dtype) and not types.is_complex_dtype(dtype):
        stats = _stats(series)
    elif types.is_datetime64_any_dtype(dtype) or types.is_timedelta64_dtype(dtype):
        detail = _quietly(lambda: f"{series.min()} to {series.max()}")
    elif isinstance(dtype, pd.CategoricalDtype):
        categories = series.cat.categories
        detail = _categories(list(categories[:5]), len(categories), "category", "categories")
    else:
        detail = _quietly(lambda: _distinct(series.dropna().unique(), int(series.nunique())))
    return _Column(str(name), str(dtype), int(series.isna().sum()), detail, stats)


def _distinct(values: Any, total: int) -> str:
    """How many distinct values a text column has, and which when they are few (a label, a flag)."""
    if total > 5:
        return f"{total:,} distinct"
    return _categories(sorted(values[:5], key=str), total, "distinct value")


def _pandas_short(pd: Any, value: Any) -> str | None:
    if isinstance(value, pd.DataFrame):
        rows, width = value.shape
        names = ", ".join(str(c) for c in list(value.columns[:5])) + (", …" if width > 5 else "")
        return f"<pandas {type(value).__name__}: {_count(rows, 'row')} × {_count(width, 'column')}: {names}>"
    if isinstance(value, pd.Series):
        return f"<pandas Series {value.name!r}: {_count(len(value), 'value')}, dtype {value.dtype}>"
    return None


# -- polars -----------------------------------------------------------------------------------
def _polars(pl: Any, value: Any, limit: int) -> str | None:
    if isinstance(value, pl.DataFrame):
        return _summarise_frame(_polars_frame(pl, value), limit)
    if isinstance(value, pl.Series):
        return _polars_series(pl, value, limit)
    if isinstance(value, pl.LazyFrame):
        return _polars_lazy(value, limit)
    return None


def _polars_frame(pl: Any, frame: Any) -> _Frame:
    rows, width = frame.shape
    names = frame.columns
    richest = _ends(width, _DETAILS[0].columns // 2)
    columns = {p: _polars_column(pl, frame.to_series(p)) for p in richest}

    def table(positions: list[int], detail: _Detail) -> str:
        return _polars_table(pl, frame.select([names[p] for p in positions]), detail)

    title = f"polars {type(frame).__name__}: {_count(rows, 'row')} × {_count(width, 'column')}"
    return _Frame(title, rows, width, columns, table)


def _polars_table(pl: Any, frame: Any, detail: _Detail) -> str:
    """polars' own table, in its frameless style (no box drawing to spend tokens on), ``…`` at the gap."""
    with pl.Config(
        tbl_rows=2 * detail.rows,
        tbl_cols=-1,
        tbl_formatting="NOTHING",
        tbl_hide_dataframe_shape=True,
        tbl_hide_column_data_types=True,
        tbl_hide_dtype_separator=True,
        fmt_str_lengths=detail.width,
        tbl_width_chars=10_000,  # polars keeps this in 16 bits
    ):
        text = str(frame)
    return "\n".join(line.rstrip() for line in text.splitlines())


def _polars_series(pl: Any, series: Any, limit: int) -> str:
    column = _polars_column(pl, series)
    title = _series_title("polars", series, column)

    def table(detail: _Detail) -> str:
        return _polars_table(pl, series.to_frame(), detail)

    return _first_fit((_series_text(title, (), column, len(series), table, d) for d in _DETAILS), limit)


def _polars_column(pl: Any, series: Any) -> _Column:
    dtype = series.dtype
    stats = detail = None
    if dtype == pl.Boolean:
        detail = _quietly(lambda: f"{int(series.sum()):,} true")
    elif dtype.is_numeric():
        nans = int(series.is_nan().sum()) if dtype.is_float() else 0  # in polars NaN is a value, not a null
        stats = _stats(series.fill_nan(None) if nans else series)
        detail = f"{nans:,} NaN" if nans else None
    elif dtype.is_temporal():
        detail = _quietly(lambda: f"{series.min()} to {series.max()}")
    elif isinstance(dtype, pl.Categorical | pl.Enum):
        present = series.drop_nulls().unique().sort()
        detail = _categories(present.head(5).to_list(), len(present), "category", "categories")
    else:
        present = series.drop_nulls()
        detail = _quietly(lambda: _distinct(present.unique().head(5).to_list(), present.n_unique()))
    return _Column(series.name, str(dtype), int(series.null_count()), detail, stats)


def _polars_lazy(frame: Any, limit: int) -> str:
    """A lazy frame is a query, not data: its schema only, since rows would mean running it."""
    schema = frame.collect_schema() if hasattr(frame, "collect_schema") else frame.schema
    columns = [_Column(str(name), str(dtype), 0, None, None) for name, dtype in schema.items()]

    def text(detail: _Detail) -> str:
        positions = _ends(len(columns), detail.columns // 2)
        title = f"polars LazyFrame: {_count(len(columns), 'column')}; rows unknown until collected"
        lines = [title, "schema:"]
        lines += _schema([columns[p] for p in positions], positions, detail.width)
        if len(columns) > len(positions):
            lines.append(_cut(_showing("columns", detail.columns // 2, len(columns))))
        return "\n".join(lines)

    return _first_fit((text(detail) for detail in _DETAILS), limit)


def _polars_short(pl: Any, value: Any) -> str | None:
    if isinstance(value, pl.DataFrame):
        rows, width = value.shape
        names = ", ".join(value.columns[:5]) + (", …" if width > 5 else "")
        return f"<polars DataFrame: {_count(rows, 'row')} × {_count(width, 'column')}: {names}>"
    if isinstance(value, pl.Series):
        return f"<polars Series {value.name!r}: {_count(len(value), 'value')}, dtype {value.dtype}>"
    return None


# -- NumPy ------------------------------------------------------------------------------------
def _numpy(np: Any, value: Any, limit: int) -> str | None:
    if isinstance(value, np.ndarray):
        return _array(np, value, limit)
    if isinstance(value, np.generic):  # np.float64(0.93) reads 0.93, as in the sentence it is put in
        return _fit(str(value), limit)
    return None


def _array(np: Any, array: Any, limit: int) -> str:
    title = f"numpy {type(array).__name__}: shape {tuple(array.shape)}, dtype {array.dtype}"
    if array.ndim == 0:
        return _fit(f"{title}, value {_value(array.item())}", limit)
    title += f", {_count(array.size, 'value')}"
    stats = _quietly(lambda: _array_stats(np, array))
    return _first_fit((_array_text(np, array, title, stats, detail) for detail in _DETAILS), limit)


def _array_text(np: Any, array: Any, title: str, stats: str | None, detail: _Detail) -> str:
    """numpy's own print, which formats only the values at the ends of long axes, however big the array."""
    threshold = 5 * detail.columns
    body = np.array2string(array, threshold=threshold, edgeitems=detail.rows, max_line_width=100)
    lines = [title, *([stats] if stats else []), body]
    if array.size > threshold and any(length > 2 * detail.rows for length in array.shape):
        each = detail.rows
        lines.append(_cut(f"showing the first and last {each} along each axis longer than {2 * each}"))
    return "\n".join(lines)


def _array_stats(np: Any, array: Any) -> str | None:
    """Statistics ignoring NaN (and saying how many), from a sample past ``STATS_SAMPLE`` values."""
    if array.size == 0:
        return None
    sample = _sample(array)
    source = "" if sample.size == array.size else f" (of an evenly spaced sample of {sample.size:,} values)"
    kind = array.dtype.kind
    if kind == "b":
        return f"stats{source}: {int(np.count_nonzero(sample)):,} true"
    if kind in "mM":
        missing = np.isnat(sample)
        valid = sample[~missing]
        nats = f", {int(missing.sum()):,} NaT" if missing.any() else ""
        span = f"{valid.min()} to {valid.max()}{nats}" if valid.size else "all NaT"
        return f"stats{source}: {span}"
    if kind not in "iuf":
        return None
    nans = int(np.isnan(sample).sum()) if kind == "f" else 0
    valid = sample[~np.isnan(sample)] if nans else sample  # a copy, made only when there is NaN to drop
    if not valid.size:
        return f"stats{source}: all NaN"
    numbers = (valid.mean(), valid.std(), valid.min(), valid.max())
    text = ", ".join(
        f"{name} {_number(n)}" for name, n in zip(("mean", "std", "min", "max"), numbers, strict=True)
    )
    return f"stats{source}: {text}" + (f", {nans:,} NaN" if nans else "")


def _sample(array: Any) -> Any:
    """An evenly strided view of at most about ``STATS_SAMPLE`` values: statistics in bounded time.

    A strided view copies nothing, so this works for memory-mapped and
    broadcast arrays far bigger than memory. The stride is spread over the
    axes, shortest first, so every part of the array is sampled.
    """
    if array.size <= STATS_SAMPLE:
        return array
    reduce_by = array.size / STATS_SAMPLE
    steps = [1] * array.ndim
    axes = sorted(range(array.ndim), key=lambda axis: array.shape[axis])
    for left, axis in zip(range(len(axes), 0, -1), axes, strict=True):
        step = min(array.shape[axis], max(1, math.ceil(reduce_by ** (1 / left))))
        steps[axis] = step
        reduce_by /= step
    return array[tuple(slice(None, None, step) for step in steps)]


def _numpy_short(np: Any, value: Any) -> str | None:
    if isinstance(value, np.ndarray):
        if value.size <= 10:
            return repr(value)
        return f"<numpy {type(value).__name__}: shape {tuple(value.shape)}, dtype {value.dtype}>"
    if isinstance(value, np.generic):
        return str(value)
    return None


_LIBRARY_SUMMARIES: dict[str, Callable[[Any, Any, int], str | None]] = {
    "pandas": _pandas,
    "polars": _polars,
    "numpy": _numpy,
}
_SHORT_DESCRIPTIONS: dict[str, Callable[[Any, Any], str | None]] = {
    "pandas": _pandas_short,
    "polars": _polars_short,
    "numpy": _numpy_short,
}
