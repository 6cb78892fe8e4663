"""The data the package hands out (kagura_magic/llm/_types.py)."""

from __future__ import annotations

import json

from kagura_magic.llm import LLMResponse, StreamStats


def test_the_status_line_shows_what_is_known() -> None:
    stats = StreamStats(model="m", started=10.0, first_token_at=10.5, finished_at=12.5)
    stats.completion_tokens, stats.tokens_estimated, stats.cost = 100, True, 0.01234
    assert stats.time_to_first_token == 0.5 and stats.tokens_per_second == 50
    assert stats.summary() == "m · first token 0.50 s · 50 tok/s · ~100 tokens · $0.0123"


def test_the_status_line_says_why_an_answer_stopped() -> None:
    assert StreamStats(model="m", finish_reason="length").summary() == "m · stopped at max tokens"
    assert "content filter" in StreamStats(model="m", finish_reason="content_filter").summary()
    assert "$" not in StreamStats(model="m", cost=0.0).summary(), "a free model shows no cost"


def test_metadata_is_json() -> None:
    stats = StreamStats(model="m", started=1.0, first_token_at=1.25, finished_at=2.0, completion_tokens=3)
    metadata = json.loads(json.dumps(stats.as_metadata()))
    assert metadata["time_to_first_token"] == 0.25 and metadata["duration"] == 1.0
    assert metadata["completion_tokens"] == 3 and metadata["cost"] is None


def test_a_response_prints_as_its_text() -> None:
    response = LLMResponse(content="Hello", model="m", usage={}, duration=0.1, cost=None)
    assert str(response) == "Hello" and not response.cached
