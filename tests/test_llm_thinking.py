"""Tests for ``kagura_magic.llm._thinking``: inline ``<think>`` blocks split from the answer."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kagura_magic.llm._thinking import ThinkSplitter
from tests.markdown_helpers import chunks_of


def split(pieces: list[str]) -> tuple[str, str]:
    splitter = ThinkSplitter()
    thinking, text = "", ""
    for piece in pieces:
        part = splitter.feed(piece)
        thinking, text = thinking + part.thinking, text + part.text
    part = splitter.finish()
    return thinking + part.thinking, text + part.text


CASES = [
    (
        "<think>Let me add 2 and 2.</think>\n\nThe answer is **4**.",
        "Let me add 2 and 2.",
        "The answer is **4**.",
    ),
    ("  \n<think>\nplan\n</think>Answer", "\nplan\n", "Answer"),
    ("No thinking here, just <think> mentioned.", "", "No thinking here, just <think> mentioned."),
    ("Use `<think>` tags like this: <think>x</think>", "", "Use `<think>` tags like this: <think>x</think>"),
    ("<thinking>is not the tag</thinking>", "", "<thinking>is not the tag</thinking>"),
    ("<think>cut off before the end", "cut off before the end", ""),
    ("<think></think>Just the answer.", "", "Just the answer."),
    ("<", "", "<"),
    ("", "", ""),
    ("<think>a < b and </thin but not closed</think> done", "a < b and </thin but not closed", "done"),
]


@pytest.mark.parametrize(("text", "thinking", "answer"), CASES)
@pytest.mark.parametrize("seed", [None, 0, 1, 2, 3, 4])
def test_any_chunking_splits_the_same(text: str, thinking: str, answer: str, seed: int | None) -> None:
    pieces = list(text) if seed is None else chunks_of(text, seed, largest=4)
    assert split(pieces) == (thinking, answer)


def test_a_tag_cut_across_chunks_never_reaches_the_answer() -> None:
    splitter = ThinkSplitter()
    assert splitter.feed("<th").text == ""
    assert splitter.feed("ink>reason").thinking == "reason"
    assert splitter.thinking
    assert splitter.feed("ing</thi").thinking == "ing"
    part = splitter.feed("nk>Hello")
    assert (part.thinking, part.text) == ("", "Hello")
    assert not splitter.thinking
    assert splitter.feed(" <think>later</think>").text == " <think>later</think>"


@given(st.text(alphabet="<>/thinkab \n", max_size=40), st.text(max_size=30), st.integers(0, 9))
def test_nothing_is_lost_or_invented(thinking: str, answer: str, seed: int) -> None:
    """Without a leading block the text passes whole; with one, thinking + answer is all of it."""
    plain = answer if not answer.lstrip().startswith("<") else "x" + answer
    assert split(chunks_of(plain, seed, largest=5)) == ("", plain)
    if "</think>" not in thinking:
        text = f"<think>{thinking}</think>{plain}"
        assert split(chunks_of(text, seed, largest=5)) == (thinking, plain.lstrip())
