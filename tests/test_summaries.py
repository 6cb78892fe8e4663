"""summaries.py: every value as bounded prompt text, by type, saying what was cut."""

from __future__ import annotations

import collections
import re
import subprocess
import sys
import time
from typing import Any

import pytest

from kagura_magic.summaries import MAX_CHARS, summarise

ROW_NOTE = "… [cut: showing rows 1–5 and 996–1,000 of 1,000]"


SECTIONS = ("schema", "rows:", "numeric columns:", "… [cut:")


def section(text: str, title: str) -> list[str]:
    """The lines under ``title`` (``schema …:``, ``rows:``, ``numeric columns:``), up to the next one."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title)) + 1
    end = next((i for i in range(start, len(lines)) if lines[i].startswith(SECTIONS)), len(lines))
    return lines[start:end]


# -- plain Python values --------------------------------------------------------------------
def test_small_collections_read_as_python() -> None:
    point = collections.namedtuple("point", "x y")
    value = {"a": [1, 2], "b": (3,), "c": point(1, 2), "d": set(), "e": frozenset({2, 1}), "f": ()}
    assert (
        summarise(value)
        == "{'a': [1, 2], 'b': (3,), 'c': point(x=1, y=2), 'd': set(), 'e': frozenset({1, 2}), 'f': ()}"
    )
    assert summarise({3, 1, 2}) == "{1, 2, 3}", "a set's own order means nothing: sorted"
    assert summarise(collections.deque([1, 2])) == "deque([1, 2])"


def test_a_long_list_shows_its_first_items_and_says_how_many() -> None:
    assert summarise(list(range(1000))) == (
        "[" + ", ".join(map(str, range(50))) + ", …]\n… [cut: first 50 of 1,000 items of a list]"
    )


def test_a_long_set_shows_its_smallest_items() -> None:
    text = summarise(set(range(999, -1, -1)))
    assert text.startswith("{0, 1, 2,") and "49, …}" in text and "999" not in text
    assert text.endswith("… [cut: first 50 of 1,000 items of a set, in sorted order]")


def test_nested_cuts_are_marked_in_place_and_counted() -> None:
    text = summarise({"ids": list(range(100)), "name": "x" * 1000})
    body, note = text.splitlines()
    assert body.startswith("{'ids': [0, 1,") and "48, 49, … 50 more], 'name': 'xxx" in body
    assert re.search(r"'name': 'x{148}…x{148}'}$", body), "a long nested string keeps its start and end"
    assert note == "… [cut: 1 nested collection cut to 50 items; 1 value shortened to 300 characters]"


def test_deep_nesting_and_self_reference_stay_finite() -> None:
    deep: dict[str, Any] = {"e": 1}
    for key in "dcba":
        deep = {key: deep}
    assert summarise(deep) == (
        "{'a': {'b': {'c': {'d': {… 1 item}}}}}\n"
        "… [cut: collections nested deeper than 4 shown as their size]"
    )
    loop: list[Any] = [1]
    loop.append(loop)
    assert summarise(loop) == "[1, [...]]"


def test_a_huge_nested_structure_fits_the_bound() -> None:
    value = {f"key{i}": {"rows": [["cell " * 50] * 100] * 100} for i in range(1000)}
    text = summarise(value)
    assert len(text) <= MAX_CHARS
    assert "… [cut: first " in text and "items of a dict]" in text


def test_a_long_string_keeps_its_head_and_tail_cut_at_line_breaks() -> None:
    text = "".join(f"line {i}\n" for i in range(2000))
    summary = summarise(text)
    assert len(summary) <= MAX_CHARS
    head, note, tail = re.split(r"\n(… \[cut: .*\])\n", summary)
    assert head.startswith("line 0\nline 1\n") and head.endswith("line 229"), "cut at a line break"
    assert tail.startswith("line 1804\n") and tail.endswith("line 1999\n")
    assert "line 1000\n" not in summary
    assert note == "… [cut: showing characters 1–1,959 and 16,931–18,890 of 18,890]"
    assert text[:1959] == head and text[16930:] == tail, "the note's ranges are the characters shown"


def test_a_tiny_limit_still_bounds() -> None:
    assert summarise("x" * 1000, 10) == "x" * 10
    assert all(len(summarise(list(range(10_000)), limit)) <= limit for limit in (0, 5, 50, 100, 200))


def test_bytes_show_both_ends_in_repr_form() -> None:
    assert summarise(b"\x89PNG") == "b'\\x89PNG'"
    data = b"\x89PNG" + b"\x00" * 10_000 + b"IEND"
    text = summarise(data, 300)
    assert len(text) <= 300
    lines = text.splitlines()
    assert lines[0] == "bytes of length 10,008"
    assert lines[1].startswith("b'\\x89PNG\\x00") and lines[3].endswith("\\x00IEND'")
    assert lines[2] == "… [cut: showing bytes 1–12 and 9,997–10,008 of 10,008]"


# -- errors ---------------------------------------------------------------------------------
def level1() -> None:
    level2()


def level2() -> None:
    level3()


def level3() -> None:
    level4()


def level4() -> None:
    try:
        {}["missing"]
    except KeyError as error:
        raise ValueError("could not load the table") from error


def test_an_error_is_its_last_frames_type_message_and_cause() -> None:
    with pytest.raises(ValueError) as caught:
        level1()
    lines = summarise(caught.value).splitlines()
    assert lines[0] == "Traceback (most recent call last):"
    frames = [line for line in lines if line.startswith("  File ")]
    assert [frame.rsplit(" in ", 1)[1] for frame in frames] == ["level2", "level3", "level4"]
    assert "in level1" not in "\n".join(lines) and "in test_an_error" not in "\n".join(lines)
    assert lines[-3:] == [
        "ValueError: could not load the table",
        "caused by KeyError: 'missing'",
        "… [cut: showing the last 3 of 5 frames]",
    ]


def test_an_error_never_raised_is_its_type_and_message() -> None:
    assert summarise(ValueError("bad value")) == "ValueError: bad value"


def test_an_error_with_a_huge_message_fits() -> None:
    with pytest.raises(RuntimeError) as caught:
        level_raising_big()
    text = summarise(caught.value, 500)
    assert len(text) <= 500 and "[cut: " in text


def level_raising_big() -> None:
    raise RuntimeError("y" * 10_000)


# -- objects that summarise themselves ------------------------------------------------------
class Model:
    def __llm_repr__(self) -> str:
        return "Model(layers=3, trained on 10k rows)"


class Table(list[int]):
    def _repr_llm_(self) -> str:
        return "a table of ids"


class Chatty:
    def __llm_repr__(self) -> str:
        return "word " * 10_000


class Broken:
    def __llm_repr__(self) -> str:
        raise RuntimeError("no summary today")

    def __repr__(self) -> str:
        return "Broken()"


class Labelled:
    _repr_llm_ = "a fixed label"


def test_an_object_chooses_its_own_summary() -> None:
    assert summarise(Model()) == "Model(layers=3, trained on 10k rows)"
    assert summarise(Table([1, 2])) == "a table of ids", "the hook wins over the summary by type"
    assert summarise(Labelled()) == "a fixed label", "a plain attribute is used as it is"
    assert summarise([Model(), 1]) == "[Model(layers=3, trained on 10k rows), 1]"


def test_an_own_summary_is_bounded_too() -> None:
    text = summarise(Chatty(), 1000)
    assert len(text) <= 1000 and "… [cut: showing characters 1–" in text and "of 50,000]" in text


def test_a_failing_own_summary_falls_back_with_a_note() -> None:
    assert summarise(Broken()) == (
        "Broken()\n[note: __llm_repr__() raised RuntimeError: no summary today; this is the default summary]"
    )
    assert summarise([Broken()]) == "[Broken()]\n… [cut: 1 value whose own summary raised shown by repr]"


def test_a_class_with_the_hook_is_not_called_as_an_instance() -> None:
    assert summarise(Model) == repr(Model)


# -- imports --------------------------------------------------------------------------------
def test_plain_values_import_no_data_library() -> None:
    script = (
        "import sys\n"
        "from kagura_magic.context import summarise\n"
        "summarise({'a': [1, {'b': 2.5}], 'c': 'x' * 10_000, 'd': ValueError('e'), 'e': b'f'})\n"
        "print(sorted({'pandas', 'numpy', 'polars'} & set(sys.modules)))\n"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "[]"


# -- pandas ---------------------------------------------------------------------------------
def sales_frame(rows: int = 1000) -> Any:
    pd = pytest.importorskip("pandas")
    return pd.DataFrame(
        {
            "id": range(rows),
            "price": [None if i % 100 == 0 else i * 1.5 for i in range(rows)],
            "kind": pd.Categorical(["a", "b", "c", "a"] * (rows // 4)),
            "when": pd.date_range("2024-01-01", periods=rows, freq="h"),
            "name": [f"n{i}" for i in range(rows)],
            "ok": [True, False] * (rows // 2),
        }
    )


def test_pandas_frame_schema_rows_and_statistics() -> None:
    text = summarise(sales_frame())
    lines = text.splitlines()
    assert lines[:3] == [
        "pandas DataFrame: 1,000 rows × 6 columns",
        "index: RangeIndex 0 to 999",
        "schema (10 nulls in 1 column):",
    ]
    schema = section(text, "schema")
    assert [line.split()[:2] for line in schema][:4] == [
        ["id", "int64"],
        ["price", "float64"],
        ["kind", "category"],
        ["when", schema[3].split()[1]],
    ]
    assert re.fullmatch(r"  price +float64 +10 nulls", schema[1])
    assert re.fullmatch(r"  kind +category +3 categories: 'a', 'b', 'c'", schema[2])
    assert re.fullmatch(r"  when +datetime64\[\w+\] +2024-01-01 00:00:00 to 2024-02-11 15:00:00", schema[3])
    assert re.fullmatch(r"  name +(str|object|string) +1,000 distinct", schema[4])
    assert re.fullmatch(r"  ok +bool +500 true", schema[5])

    rows = section(text, "rows:")
    labels = [line.split()[0] for line in rows[1:]]
    assert labels == ["0", "1", "2", "3", "4", "…", "995", "996", "997", "998", "999"]
    assert rows[0].split() == ["id", "price", "kind", "when", "name", "ok"]
    assert rows[1].split() == ["0", "0", "NaN", "a", "2024-01-01", "00:00:00", "n0", "True"]
    assert "n500" not in text, "the middle rows are left out"

    stats = section(text, "numeric columns:")
    assert [line.split() for line in stats] == [
        ["mean", "std", "min", "median", "max"],
        ["id", "499.5", "288.82", "0", "499.5", "999"],
        ["price", "750", "433.19", "1.5", "750", "1498.5"],
    ]
    assert lines[-1] == ROW_NOTE


def test_a_small_pandas_frame_is_shown_whole() -> None:
    pd = pytest.importorskip("pandas")
    text = summarise(pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}))
    assert "[cut:" not in text and section(text, "rows:") == ["   a  b", "0  1  x", "1  2  y"]


def test_a_wide_pandas_frame_cuts_columns_and_says_so() -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({f"c{i}": [i, i + 1] for i in range(500)})
    text = summarise(frame)
    schema = section(text, "schema")
    names = [line.split()[0] for line in schema]
    assert names == [*(f"c{i}" for i in range(10)), "…", *(f"c{i}" for i in range(490, 500))]
    assert text.splitlines()[2] == "schema (no nulls in the columns shown):"
    assert text.endswith("… [cut: showing columns 1–10 and 491–500 of 500]")
    assert "c250" not in text


def test_a_huge_pandas_frame_fits_the_bound_by_dropping_detail() -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({f"column_{i}": ["a long text value " * 5] * 20_000 for i in range(60)})
    for limit in (MAX_CHARS, 1000, 300):
        text = summarise(frame, limit)
        assert len(text) <= limit and "[cut: " in text
    text = summarise(frame)
    assert "… [cut: showing rows 1–" in text and "of 20,000]" in text and "of 60]" in text


def test_pandas_series_and_index() -> None:
    pd = pytest.importorskip("pandas")
    series = pd.Series([1.0, None, 3.0], name="x")
    assert summarise(series) == (
        "pandas Series 'x': 3 values, dtype float64, 1 null\n"
        "index: RangeIndex 0 to 2\n"
        "stats: mean 2, std 1.4142, min 1, median 2, max 3\n"
        "0  1.0\n1  NaN\n2  3.0"
    )
    kinds = sales_frame().set_index("when")["kind"]
    lines = summarise(kinds).splitlines()
    assert re.fullmatch(
        r"index: DatetimeIndex when \(datetime64\[\w+\]\), 2024-01-01 00:00:00 to .*", lines[1]
    )
    assert lines[2] == "values: 3 categories: 'a', 'b', 'c'"
    assert lines[-1] == ROW_NOTE


def test_a_multiindex_reads_as_labels() -> None:
    pd = pytest.importorskip("pandas")
    index = pd.MultiIndex.from_tuples([("EU", 2020), ("US", 2021)], names=["region", "year"])
    lines = summarise(pd.DataFrame({"v": [1.0, 2.0]}, index=index)).splitlines()
    assert lines[1] == "index: MultiIndex region, year (object), ('EU', 2020) to ('US', 2021)"


def test_an_empty_pandas_frame() -> None:
    pd = pytest.importorskip("pandas")
    assert summarise(pd.DataFrame({"a": []})) == (
        "pandas DataFrame: 0 rows × 1 column\nindex: RangeIndex, empty\nschema (no nulls):\n  a  float64"
    )


def test_frames_inside_a_dict_are_one_line() -> None:
    pd = pytest.importorskip("pandas")
    value = {"train": sales_frame(), "prices": pd.Series([1.0], name="p")}
    assert summarise(value) == (
        "{'train': <pandas DataFrame: 1,000 rows × 6 columns: id, price, kind, when, name, …>, "
        "'prices': <pandas Series 'p': 1 value, dtype float64>}"
    )


# -- polars ---------------------------------------------------------------------------------
def test_polars_frame_nulls_and_nan_are_told_apart() -> None:
    pl = pytest.importorskip("polars")
    text = summarise(pl.DataFrame({"a": [1, None, 3], "f": [1.0, float("nan"), 2.0]}))
    assert text == "\n".join(
        [
            "polars DataFrame: 3 rows × 2 columns",
            "schema (1 null in 1 column):",
            "  a  Int64    1 null",
            "  f  Float64  1 NaN",
            "rows:",
            " a     f",
            " 1     1.0",
            " null  NaN",
            " 3     2.0",
            "numeric columns:",
            "     mean      std  min  median  max",
            "  a     2   1.4142    1       2    3",
            "  f   1.5  0.70711    1     1.5    2",
        ]
    )


def test_a_long_polars_frame_shows_head_and_tail() -> None:
    pl = pytest.importorskip("polars")
    frame = pl.DataFrame({"id": range(1000), "name": [f"n{i}" for i in range(1000)]})
    text = summarise(frame)
    rows = section(text, "rows:")
    assert [line.split()[0] for line in rows] == [
        "id",
        "0",
        "1",
        "2",
        "3",
        "4",
        "…",
        *map(str, range(995, 1000)),
    ]
    assert "n500" not in text
    assert re.search(r"^  name +String +1,000 distinct$", text, re.MULTILINE)
    assert text.endswith(ROW_NOTE)


def test_a_polars_lazy_frame_is_not_run() -> None:
    pl = pytest.importorskip("polars")
    query = pl.LazyFrame({"a": [1, 2]}).with_columns(
        b=pl.col("a").map_elements(fail, return_dtype=pl.Float64)
    )
    assert summarise(query) == (
        "polars LazyFrame: 2 columns; rows unknown until collected\nschema:\n  a  Int64\n  b  Float64"
    )


def fail(value: int) -> float:
    raise AssertionError("summarising a lazy frame must not run it")


def test_polars_series() -> None:
    pl = pytest.importorskip("polars")
    assert summarise(pl.Series("s", ["x", "y", "x"])) == (
        "polars Series 's': 3 values, dtype String, no nulls\n"
        "values: 2 distinct values: 'x', 'y'\n s\n x\n y\n x"
    )


# -- NumPy ----------------------------------------------------------------------------------
def test_a_small_array_is_shape_dtype_stats_and_values() -> None:
    np = pytest.importorskip("numpy")
    assert summarise(np.arange(12.0).reshape(3, 4)) == (
        "numpy ndarray: shape (3, 4), dtype float64, 12 values\n"
        "stats: mean 5.5, std 3.4521, min 0, max 11\n"
        "[[ 0.  1.  2.  3.]\n [ 4.  5.  6.  7.]\n [ 8.  9. 10. 11.]]"
    )


def test_array_statistics_ignore_nan_and_count_it() -> None:
    np = pytest.importorskip("numpy")
    assert (
        summarise(np.array([1.0, np.nan, 3.0])).splitlines()[1] == "stats: mean 2, std 1, min 1, max 3, 1 NaN"
    )
    assert summarise(np.array([np.nan])).splitlines()[1] == "stats: all NaN"
    assert summarise(np.array([True, False, True])).splitlines()[1] == "stats: 2 true"


def test_zero_dimensional_arrays_and_scalars_read_as_their_value() -> None:
    np = pytest.importorskip("numpy")
    assert summarise(np.array(3.5)) == "numpy ndarray: shape (), dtype float64, value 3.5"
    assert summarise(np.float64(0.25)) == "0.25", "as in the sentence it is put in, not np.float64(0.25)"
    assert summarise([np.float64(0.5), np.int64(3)]) == "[0.5, 3]"


def test_a_long_array_shows_its_ends() -> None:
    np = pytest.importorskip("numpy")
    text = summarise(np.arange(1000))
    assert text.splitlines()[2] == "[  0   1   2   3   4 ... 995 996 997 998 999]"
    assert text.endswith("… [cut: showing the first and last 5 along each axis longer than 10]")


def test_a_huge_array_is_summarised_without_reading_it_all() -> None:
    np = pytest.importorskip("numpy")
    huge = np.broadcast_to(np.float64(1.5), (10**6, 10**6))  # 8 TB if it were real
    started = time.monotonic()
    text = summarise(huge)
    assert time.monotonic() - started < 5
    lines = text.splitlines()
    assert lines[0] == "numpy ndarray: shape (1000000, 1000000), dtype float64, 1,000,000,000,000 values"
    assert lines[1].startswith("stats (of an evenly spaced sample of 1,00")
    assert lines[1].endswith("values): mean 1.5, std 0, min 1.5, max 1.5")
    assert len(text) <= MAX_CHARS and "..." in text


def test_arrays_fit_small_bounds() -> None:
    np = pytest.importorskip("numpy")
    array = np.random.default_rng(0).normal(size=(200, 300, 4))
    for limit in (MAX_CHARS, 600, 200):
        assert len(summarise(array, limit)) <= limit


def test_a_library_summary_that_fails_falls_back_to_the_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    """An exotic subclass or an unforeseen library version must not break the prompt."""
    pd = pytest.importorskip("pandas")
    from kagura_magic import summaries

    def broken(module: Any, value: Any, limit: int) -> str:
        raise RuntimeError("boom")

    monkeypatch.setitem(summaries._LIBRARY_SUMMARIES, "pandas", broken)
    series = pd.Series([1, 2], name="v")
    assert (
        summarise(series)
        == f"{series!r}\n[note: summarising a Series raised RuntimeError: boom; this is its repr]"
    )
