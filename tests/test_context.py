from __future__ import annotations

import pytest

from kagura_magic.context import MAX_CHARS, CellLog, ErrorLog, summarise
from kagura_magic.templating import render_template


class FakeFrame:
    """Duck-types the bits of a DataFrame that summarise() reads."""

    def __init__(self, rows: int) -> None:
        self.shape = (rows, 2)
        self.columns = ["a", "b"]
        self.rows = rows

    def head(self, n: int) -> FakeFrame:
        return FakeFrame(min(n, self.rows))

    def to_string(self) -> str:
        return "\n".join(f"{i} {i * 2}" for i in range(self.rows))


def test_small_values_are_shown_whole() -> None:
    assert summarise([1, 2, 3]) == "[1, 2, 3]"
    assert summarise("text") == "text"


def test_long_collections_are_cut_with_a_note() -> None:
    text = summarise(list(range(10_000)))
    assert "[cut: first 50 of 10,000 items of a list]" in text
    assert "9999" not in text


def test_long_strings_are_cut_with_a_note() -> None:
    text = summarise("x" * 50_000)
    assert len(text) <= MAX_CHARS and "[cut: showing characters 1–" in text and "of 50,000]" in text


def test_frames_show_shape_columns_and_head() -> None:
    text = summarise(FakeFrame(1_000_000))
    assert "shape (1000000, 2)" in text and "['a', 'b']" in text
    assert "first 10 of 1,000,000 rows" in text and "999999" not in text


def test_templates_summarise_every_value() -> None:
    prompt = render_template("Data: {{ big }}", {"big": list(range(5000))})
    assert "[cut:" in prompt and len(prompt) < 1000


def test_error_log_negative_index_and_clear_messages() -> None:
    log = ErrorLog()
    log.add(3, "first", "a[1]")
    log.add(None, "unnumbered", "b()")  # a cell run with store_history=False
    log.add(7, "second", "c / 0")
    assert log[-1] == "second" and log[-2] == "unnumbered" and log[3] == "first"
    with pytest.raises(KeyError, match="raised no error"):
        log[5]
    with pytest.raises(KeyError, match="only 3 error"):
        log[-4]
    assert log.latest() == (7, "second", "c / 0")


def test_cell_source_counts_back_from_the_running_cell() -> None:
    cells = CellLog()
    cells.entries = [(1, "a = 1"), (2, "b = 2"), (None, "%%agent ...")]
    assert cells.source(1) == "a = 1" and cells.source(-1) == "b = 2" and cells.source(-2) == "a = 1"
    with pytest.raises(IndexError, match="there is no cell 9"):
        cells.source(9)
    with pytest.raises(IndexError, match="2 cell"):
        cells.source(-3)
