"""One request (kagura_magic/llm/_request.py): its messages, its checks before the call, its books.

The checks are litellm's real offline answers (no network); the wire is the
local server.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from kagura_magic import llm
from kagura_magic.config import LLMConfig
from kagura_magic.errors import (
    IncompleteStreamError,
    LLMConnectionError,
    MissingAPIKeyError,
    UnknownModelError,
)
from kagura_magic.llm._request import Request
from tests.openai_server import OpenAIServer, local_config

local = local_config


# -- messages ------------------------------------------------------------------------
def test_a_prompt_becomes_one_user_message_after_the_system_prompt() -> None:
    assert llm.build_messages("hi", "Be brief.") == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hi"},
    ]


def test_a_message_list_keeps_its_own_system_message_and_is_copied() -> None:
    given = [{"role": "system", "content": "Mine."}, {"role": "user", "content": "hi"}]
    built = llm.build_messages(given, "Ignored.")
    assert built == given and built[0] is not given[0]


def test_messages_without_a_role_are_refused() -> None:
    with pytest.raises(TypeError, match="'role'"):
        llm.build_messages([{"content": "hi"}])


# -- the checks before the call -------------------------------------------------------
def test_missing_api_key_names_the_variable() -> None:
    with pytest.raises(MissingAPIKeyError) as info:
        list(llm.call_llm_stream("hi", LLMConfig(model="gpt-4o-mini")))
    assert "OPENAI_API_KEY" in str(info.value)
    assert info.value.env_vars == ["OPENAI_API_KEY"]
    assert len(str(info.value).splitlines()) <= 2


def test_preflight_makes_the_same_checks_on_its_own() -> None:
    with pytest.raises(MissingAPIKeyError):
        llm.preflight(LLMConfig(model="gpt-4o-mini"))
    llm.preflight(LLMConfig(model="demo/echo"))  # the demo needs no key


def test_unknown_model_suggests_close_names() -> None:
    with pytest.raises(UnknownModelError) as info:
        list(llm.call_llm_stream("hi", LLMConfig(model="gpt-4o-mni")))
    assert "Did you mean" in str(info.value) and "gpt-4o-mini" in str(info.value)


def test_unknown_demo_model_lists_demo_models() -> None:
    with pytest.raises(UnknownModelError, match="demo/showcase"):
        list(llm.call_llm_stream("hi", LLMConfig(model="demo/nope")))


def test_a_local_server_without_a_key_gets_a_placeholder(openai_server: OpenAIServer) -> None:
    """Self-hosted OpenAI-compatible servers usually want no key; the SDK insists on one."""
    config = LLMConfig(model="openai/ok", api_base=openai_server.api_base)
    assert "".join(llm.call_llm_stream("hello", config)) == "hello"
    assert openai_server.authorizations[-1] == "Bearer sk-no-key-required"


def test_the_given_key_is_sent(openai_server: OpenAIServer) -> None:
    list(llm.call_llm_stream("hello", local(openai_server, "ok")))
    assert openai_server.authorizations[-1] == f"Bearer {local(openai_server, 'ok').api_key}"


def test_openai_compatible_providers_get_no_sdk_retries() -> None:
    """We retry ourselves, before the first token only; the openai SDK would retry 429s twice more."""
    kwargs = Request("hi", LLMConfig(model="openai/ok", api_base="http://127.0.0.1:9/v1")).kwargs()
    assert kwargs["max_retries"] == 0
    own = Request("hi", LLMConfig(model="openai/ok", api_key="sk-x-123456", extra={"max_retries": 3}))
    assert own.kwargs()["max_retries"] == 3, "a --param max_retries is the user's choice"
    other = Request("hi", LLMConfig(model="anthropic/claude-sonnet-4-5", api_key="sk-ant-123456"))
    assert "max_retries" not in other.kwargs()


def test_a_stream_asks_for_usage_where_the_provider_has_it() -> None:
    kwargs = Request("hi", LLMConfig(model="openai/ok", api_key="sk-x-123456")).stream_kwargs()
    assert kwargs["stream"] is True and kwargs["stream_options"] == {"include_usage": True}


# -- the books: a stream that never said it was done -----------------------------------------
def chunk(**delta: Any) -> Any:
    """A chunk as litellm's stream wrapper yields it."""
    lit = llm.load_litellm()
    return lit.ModelResponseStream(choices=[lit.utils.StreamingChoices(delta=lit.utils.Delta(**delta))])


def unfinished_wrapper() -> SimpleNamespace:
    """What older litellm leaves on its stream wrapper after a silent cut: no finish reason at all."""
    return SimpleNamespace(received_finish_reason=None, intermittent_finish_reason=None)


def test_a_stream_cut_silently_after_text_is_incomplete() -> None:
    request = Request("hi", LLMConfig(model="openai/ok"))
    assert request.take(chunk(role="assistant", content="")) == ""
    assert request.take(chunk(content="Hel")) == "Hel"
    with pytest.raises(IncompleteStreamError) as info:
        request.finish(unfinished_wrapper())
    assert info.value.partial_text == "Hel" and "(3 characters received)" in str(info.value)


def test_a_response_without_any_event_did_not_stream() -> None:
    request = Request("hi", LLMConfig(model="openai/ok"))
    with pytest.raises(LLMConnectionError, match="answered without streaming") as info:
        request.finish(unfinished_wrapper())
    assert type(info.value) is LLMConnectionError


def test_a_finished_stream_is_accounted() -> None:
    request = Request("hi", LLMConfig(model="demo/echo"))
    request.take(chunk(content="Hello there"))
    request.finish(SimpleNamespace(received_finish_reason="stop", intermittent_finish_reason=None))
    assert request.stats.finish_reason == "stop"
    assert request.stats.completion_tokens and request.stats.tokens_estimated
    assert request.stats.cost == 0.0


def test_half_a_character_at_the_end_becomes_a_replacement_character() -> None:
    request = Request("hi", LLMConfig(model="openai/ok"))
    assert request.take(chunk(content="A\ud83c")) == "A"
    assert request.leftover() == "\ufffd"
    assert request.text == "A\ufffd"
