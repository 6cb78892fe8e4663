from __future__ import annotations

import pytest

from kagura_magic.config import LLMConfig, masked_params, parse_params
from kagura_magic.errors import ConfigurationError

SECRET = "sk-live-THIS-MUST-NEVER-SHOW-123"


def test_api_key_never_in_repr_or_str() -> None:
    config = LLMConfig(model="gpt-4o-mini", api_key=SECRET, extra={"aws_secret_access_key": SECRET})
    for text in (repr(config), str(config), f"{config}"):
        assert SECRET not in text
    assert "api_key='***'" in repr(config)
    assert "aws_secret_access_key': '***'" in repr(config)


def test_api_key_not_in_cache_key_but_answer_shaping_fields_are() -> None:
    a = LLMConfig(model="m/x", api_key=SECRET, temperature=0.2)
    b = LLMConfig(model="m/x", api_key="other", temperature=0.2)
    c = LLMConfig(model="m/x", temperature=0.3)
    messages = [{"role": "user", "content": "hi"}]
    assert SECRET not in a.cache_key(messages)
    assert a.cache_key(messages) == b.cache_key(messages)
    assert a.cache_key(messages) != c.cache_key(messages)
    assert a.cache_key(messages) != a.cache_key([{"role": "user", "content": "ho"}])


def test_model_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAGURA_MODEL", "demo/echo")
    assert LLMConfig().resolved_model() == "demo/echo"
    assert LLMConfig(model="demo/showcase").resolved_model() == "demo/showcase"


def test_missing_model_error_says_how_to_choose() -> None:
    with pytest.raises(ConfigurationError) as info:
        LLMConfig().resolved_model()
    message = str(info.value)
    assert "demo/showcase" in message and "KAGURA_MODEL" in message
    assert len(message.splitlines()) <= 2


@pytest.mark.parametrize(
    "kwargs",
    [{"temperature": 3}, {"temperature": -1}, {"top_p": 0}, {"max_tokens": 0}, {"max_retries": -1}],
)
def test_invalid_values_are_rejected(kwargs: dict) -> None:
    with pytest.raises(ConfigurationError):
        LLMConfig(**kwargs)


def test_parse_params_types() -> None:
    assert parse_params(["tokens_per_second=0", "seed=7.5", 'stop=["x"]', "user=alice", "flag=true"]) == {
        "tokens_per_second": 0,
        "seed": 7.5,
        "stop": ["x"],
        "user": "alice",
        "flag": True,
    }
    with pytest.raises(ConfigurationError, match="KEY=VALUE"):
        parse_params(["novalue"])


def test_masked_params_keeps_max_tokens_visible() -> None:
    shown = masked_params({"max_tokens": 5, "api_key": SECRET, "azure_ad_token": SECRET})
    assert shown == {"max_tokens": 5, "api_key": "***", "azure_ad_token": "***"}
