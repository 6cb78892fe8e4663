"""history.py: which earlier exchanges the next cell sends, and the report that says so."""

from __future__ import annotations

from kagura_magic.history import Conversation, Exchange, exchange_key
from kagura_magic.llm import Message


def _words(messages: list[Message]) -> int:
    """A tokenizer for tests: one token a word."""
    return sum(len(str(m["content"]).split()) for m in messages)


def _chat(*prompts: str) -> Conversation:
    chat = Conversation()
    for number, prompt in enumerate(prompts):
        chat.record(Exchange(f"cell-{number}", prompt, "answer " * 3, "demo/echo"))
    return chat


def test_rerunning_a_cell_replaces_its_exchange_and_moves_it_last() -> None:
    chat = _chat("first question", "second question")
    chat.record(Exchange("cell-0", "first, asked again", "new answer", "demo/echo"))
    assert [e.prompt for e in chat.exchanges] == ["second question", "first, asked again"]


def test_the_oldest_exchanges_are_trimmed_first_to_fit_the_budget() -> None:
    chat = _chat("one two", "three four", "five six")  # 2 + 3 words each
    messages, dropped = chat.history_for("", budget=10, count=_words)
    assert dropped == 1
    assert [m["content"] for m in messages if m["role"] == "user"] == ["three four", "five six"]


def test_a_cells_own_earlier_exchange_is_not_sent_as_its_history() -> None:
    chat = _chat("one", "two")
    messages, _ = chat.history_for("cell-1", budget=100, count=_words)
    assert [m["content"] for m in messages if m["role"] == "user"] == ["one"]


def test_the_report_counts_what_is_sent_and_marks_what_is_trimmed() -> None:
    report = _chat("one two", "three four", "five six").report("default", 10, _words, "demo/echo")
    first, *rows = report.splitlines()
    assert "3 exchange(s), 15 tokens" in first and "sends 2 (10 of a 10-token budget for demo/echo)" in first
    assert rows[0].endswith("[trimmed]") and not rows[1].endswith("[trimmed]")


def test_an_empty_conversation_says_how_it_fills() -> None:
    assert "No exchanges in conversation 'x' yet" in Conversation().report("x", 10, _words, None)


def test_without_a_cell_id_the_prompt_is_the_key() -> None:
    assert exchange_key(None, "same") == exchange_key(None, "same") != exchange_key(None, "other")
    assert exchange_key("abc", "same") == "abc"


def test_a_reserved_place_keeps_the_order_the_cells_ran() -> None:
    """A background answer ends after later cells did: it still comes where its cell was run."""
    from kagura_magic.history import Conversation, Exchange

    chat = Conversation()
    chat.reserve("bg")
    chat.record(Exchange("later", "second question", "second answer", "m"))
    assert [e.key for e in chat.exchanges] == ["later"] and len(chat) == 1, "a reserved place is no exchange"
    chat.record(Exchange("bg", "first question", "first answer", "m"))
    assert [e.key for e in chat.exchanges] == ["bg", "later"]
    chat.reserve("gone")
    chat.release("gone")
    chat.record(Exchange("gone", "q", "a", "m"))
    assert [e.key for e in chat.exchanges] == ["bg", "later", "gone"], "a released place is forgotten"
