"""views/_protocol.py: what an Outcome saves with the output."""

from __future__ import annotations

from kagura_magic.llm import StreamStats
from kagura_magic.views import Outcome


def test_saved_status_keeps_its_long_standing_values() -> None:
    stats = StreamStats(model="demo/echo")
    assert Outcome("complete", "x", stats, output_format="json").metadata()["status"] == "complete"
    assert Outcome("interrupted", "x", stats).metadata()["status"] == "partial"
    assert Outcome("failed", "x", stats).metadata()["status"] == "partial"
    assert Outcome("failed", "").metadata() == {"status": "error"}
    assert Outcome("interrupted", "").metadata() == {"status": "interrupted"}
    assert Outcome("empty", "", stats).metadata()["status"] == "empty"


def test_metadata_carries_the_stats_and_the_format() -> None:
    stats = StreamStats(model="demo/echo", completion_tokens=12)
    facts = Outcome("complete", "x", stats, output_format="json").metadata()
    assert facts["model"] == "demo/echo" and facts["completion_tokens"] == 12 and facts["format"] == "json"
    assert Outcome("complete", "x", stats).ok and not Outcome("invalid", "x", stats).ok
