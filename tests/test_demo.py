"""The offline demo provider (kagura_magic/providers/demo.py)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kagura_magic import llm
from kagura_magic.config import LLMConfig
from kagura_magic.providers.demo import DEMO_MODELS, split_into_tokens
from kagura_magic.providers.demo_answers import ANSWERS, REPLIES, THINKER_ANSWER, THINKER_REASONING


@given(st.text())
def test_token_pieces_join_back_exactly(text: str) -> None:
    pieces = split_into_tokens(text)
    assert "".join(pieces) == text
    assert all(len(p.strip()) <= 4 for p in pieces)


def test_every_canned_answer_streams_through_litellm() -> None:
    for name, reply in REPLIES.items():
        stream = llm.call_llm_stream(
            "anything", LLMConfig(model=f"demo/{name}", extra={"tokens_per_second": 0})
        )
        thinking, _, shown = reply.content.rpartition("</think>")  # a <think> block is not answer text
        assert "".join(stream) == shown.lstrip(), name
        assert stream.stats.finish_reason == reply.finish_reason, name
        has_thinking = bool(thinking or reply.reasoning)
        assert (stream.stats.thinking_started is not None) == has_thinking, name
        assert [(c.name, c.arguments) for c in stream.tool_calls] == [
            (c.name, c.arguments) for c in reply.tool_calls
        ], name
    assert set(DEMO_MODELS) == {"echo", "vision", *REPLIES}, "echo and vision answer from what they got"


def test_the_thinker_sends_structured_reasoning_and_the_inline_one_tags() -> None:
    structured = llm.call_llm_stream("q", LLMConfig(model="demo/thinker", extra={"tokens_per_second": 0}))
    answer = "".join(structured)
    assert structured.reasoning == THINKER_REASONING and answer == THINKER_ANSWER
    assert structured.stats.reasoning_tokens == len(split_into_tokens(THINKER_REASONING)), (
        "the usage chunk reports reasoning tokens, as OpenAI does"
    )
    inline = llm.call_llm_stream("q", LLMConfig(model="demo/thinker-inline", extra={"tokens_per_second": 0}))
    assert "".join(inline) == answer, "the same answer once the tags are split off"
    assert inline.reasoning.strip() == THINKER_REASONING


def test_the_tool_model_sends_a_call_and_no_text() -> None:
    stream = llm.call_llm_stream("q", LLMConfig(model="demo/tools", extra={"tokens_per_second": 0}))
    assert "".join(stream) == "" and stream.stats.finish_reason == "tool_calls"
    (call,) = stream.tool_calls
    assert call.name == "get_weather" and json.loads(call.arguments) == {"city": "Paris", "unit": "celsius"}


def test_fail_after_counts_thinking_so_a_drop_can_come_before_any_answer_text() -> None:
    stream = llm.call_llm_stream(
        "q", LLMConfig(model="demo/thinker", extra={"tokens_per_second": 0, "fail_after": 40})
    )
    with pytest.raises(Exception, match="demo fail_after"):
        "".join(stream)
    assert stream.text == "" and 40 <= len(stream.reasoning) < 60, "the thinking so far is kept"


def test_showcase_covers_the_markdown_a_real_answer_has() -> None:
    showcase = ANSWERS["showcase"]
    for marker in ("## ", "| Region", "```python", "$$", "$g", "](https://", "1. ", "- [x]", "> "):
        assert marker in showcase


def test_echo_streams_the_last_user_message() -> None:
    messages = [
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": "second question"},
    ]
    assert "".join(
        llm.call_llm_stream(messages, LLMConfig(model="demo/echo", extra={"tokens_per_second": 0}))
    ) == ("second question")
