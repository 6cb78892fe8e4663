"""Thinking models through the real stream against the local server (issue 14).

Reasoning arrives as ``reasoning_content`` deltas (OpenAI-compatible
servers, litellm's name for every provider's) or inline as ``<think>…</think>``
content (local servers); tool calls as ``tool_calls`` deltas. The answer text
never holds any of them.
"""

from __future__ import annotations

import time

import pytest

from kagura_magic import llm
from kagura_magic.config import LLMConfig
from kagura_magic.errors import AgentError, ConfigurationError
from kagura_magic.llm import ToolCallEvent
from tests.openai_server import THINK_INLINE, OpenAIServer, interrupt_once_requested, local_config


def test_reasoning_effort_reaches_the_provider(openai_server: OpenAIServer) -> None:
    llm.call_llm("hi", local_config(openai_server, "ok", reasoning_effort="low", enable_cache=False))
    assert openai_server.requests[-1]["reasoning_effort"] == "low"


def test_reasoning_effort_is_refused_offline_for_a_model_that_cannot_take_it(
    openai_server: OpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="does not take --reasoning-effort"):
        llm.call_llm("hi", LLMConfig(model="gpt-4o-mini", reasoning_effort="high", enable_cache=False))
    assert not openai_server.requests, "nothing was sent"


def test_an_unknown_effort_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="low, medium, high"):
        LLMConfig(model="demo/echo", reasoning_effort="extreme")


async def _events(config: LLMConfig) -> tuple[list[object], llm.AsyncTextStream]:
    stream = llm.call_llm_stream("hi", config)
    return [event async for event in stream.events()], stream


async def test_reasoning_content_is_thinking_never_text(openai_server: OpenAIServer) -> None:
    events, stream = await _events(local_config(openai_server, "reasoning"))
    kinds = [type(e).__name__ for e in events]
    assert kinds == ["ThinkingEvent"] * 3 + ["TextEvent"] * 2, kinds
    assert stream.reasoning == "Two plus two is four."
    assert stream.text == "The answer is 4."
    assert stream.stats.thinking_seconds is not None and stream.stats.thinking_seconds >= 0
    assert stream.stats.as_metadata()["thinking_seconds"] is not None


async def test_inline_think_tags_cut_across_chunks_are_split_off(openai_server: OpenAIServer) -> None:
    stream = llm.call_llm_stream("hi", local_config(openai_server, "think-inline"))
    text = "".join([piece async for piece in stream])
    assert text == "Hello there." and stream.reasoning == "I should greet."


def test_inline_think_tags_cut_at_every_position_are_split_off(openai_server: OpenAIServer) -> None:
    for cut in range(1, len(THINK_INLINE)):
        stream = llm.call_llm_stream("hi", local_config(openai_server, f"think-cut-{cut}"))
        assert "".join(stream) == "Hello there.", f"cut after {THINK_INLINE[:cut]!r}"
        assert stream.reasoning == "I should greet.", f"cut after {THINK_INLINE[:cut]!r}"


def test_the_sync_for_loop_yields_only_text(openai_server: OpenAIServer) -> None:
    stream = llm.call_llm_stream("hi", local_config(openai_server, "reasoning"))
    assert list(stream) == ["The answer ", "is 4."]
    assert stream.reasoning == "Two plus two is four."


async def test_a_tool_call_grows_its_arguments(openai_server: OpenAIServer) -> None:
    events, stream = await _events(local_config(openai_server, "tool-call"))
    calls = [e for e in events if isinstance(e, ToolCallEvent)]
    assert [c.arguments for c in calls] == ["", '{"city": ', '{"city": "Paris"}']
    assert stream.tool_calls == [ToolCallEvent(0, "get_weather", '{"city": "Paris"}', "call_1")]
    assert stream.text == ""


async def test_claude_thinking_blocks_are_thinking_and_its_usage_is_counted(
    openai_server: OpenAIServer,
) -> None:
    """Anthropic's Messages API (the local server speaks it at /v1/messages): a thinking block
    with its signature, then text. litellm hands both the block and reasoning_content on."""
    config = LLMConfig(model="anthropic/thinking", api_base=openai_server.api_base, api_key="sk-ant-local")
    events, stream = await _events(config)
    kinds = [type(e).__name__ for e in events]
    assert kinds == ["ThinkingEvent"] * 3 + ["TextEvent"] * 3, kinds
    assert stream.reasoning == "The user wants a greeting; keep it short.", "the signature is not thinking"
    assert stream.text == "Hello from Claude."
    stats = stream.stats
    assert (stats.prompt_tokens, stats.completion_tokens, stats.reasoning_tokens) == (12, 30, 10), (
        "Claude's own usage, from its message_start and message_delta events"
    )
    assert not stats.tokens_estimated


@pytest.mark.usefixtures("sigint_raises")
def test_a_drop_while_the_model_thinks_keeps_the_thinking(openai_server: OpenAIServer) -> None:
    stream = llm.call_llm_stream("hi", local_config(openai_server, "reasoning-drop"))
    with pytest.raises(AgentError) as caught:
        list(stream)
    assert stream.text == "" and stream.reasoning == "Let me think about this carefully."
    assert "no answer text" in str(caught.value), caught.value


@pytest.mark.usefixtures("sigint_raises")
def test_ctrl_c_while_the_model_thinks_closes_the_connection_at_once(openai_server: OpenAIServer) -> None:
    """The model sends only thinking for a long while: Ctrl-C needs no answer text to act."""
    openai_server.slow_delay = 0.1
    stream = llm.call_llm_stream("hi", local_config(openai_server, "reasoning-trickle"))
    interrupt_once_requested(openai_server, 1, after=0.6)
    with pytest.raises(KeyboardInterrupt):
        list(stream)  # text only: the read waits through the thinking, where Ctrl-C lands
    interrupted_at = time.monotonic()
    assert openai_server.disconnected.wait(3)
    closed = openai_server.disconnect_times[-1] - interrupted_at
    assert closed < 1.0, f"the server saw the close {closed:.2f} s after Ctrl-C"
    assert stream.reasoning.startswith("step 0, step 1, ") and stream.text == ""
