"""The offline demo provider (kagura_magic/providers/demo.py)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from kagura_magic import llm
from kagura_magic.config import LLMConfig
from kagura_magic.providers.demo import DEMO_MODELS, split_into_tokens
from kagura_magic.providers.demo_answers import ANSWERS


@given(st.text())
def test_token_pieces_join_back_exactly(text: str) -> None:
    pieces = split_into_tokens(text)
    assert "".join(pieces) == text
    assert all(len(p.strip()) <= 4 for p in pieces)


def test_every_canned_answer_streams_through_litellm() -> None:
    for name, answer in ANSWERS.items():
        stream = llm.call_llm_stream(
            "anything", LLMConfig(model=f"demo/{name}", extra={"tokens_per_second": 0})
        )
        thinking, _, shown = answer.rpartition("</think>")  # a <think> block is not answer text
        assert "".join(stream) == shown.lstrip()
        assert stream.stats.finish_reason == "stop"
        assert (stream.stats.thinking_started is not None) == bool(thinking), name
    assert set(DEMO_MODELS) == {"echo", *ANSWERS}


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
