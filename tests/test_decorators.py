from __future__ import annotations

import pytest

from kagura_magic import agent
from kagura_magic.config import LLMConfig
from kagura_magic.errors import ConfigurationError, StreamingNotSupportedError, TemplateError
from kagura_magic.llm import AsyncTextStream, clear_cache
from tests.openai_server import OpenAIServer

FAST = {"tokens_per_second": 0}


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    clear_cache()


def test_non_streaming_is_the_default_and_returns_the_answer() -> None:
    @agent(model="demo/echo", **FAST)
    def greet(name: str, mood: str = "cheerful") -> str:
        """Say hello to {{ name }} in a {{ mood }} way."""

    assert greet("Ada") == "Say hello to Ada in a cheerful way."
    assert greet("Ada", mood="calm") == "Say hello to Ada in a calm way."


def test_bare_decorator_uses_the_environment_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAGURA_MODEL", "demo/echo")

    @agent
    def shout(word: str) -> str:
        """{{ word | upper }}!"""

    assert shout("hey") == "HEY!"


async def test_async_function_returns_awaitable_answer() -> None:
    @agent(model="demo/echo", **FAST)
    async def summarise(items: list[str]) -> str:
        """Items: {{ items | join(', ') }}"""

    assert await summarise(["a", "b"]) == "Items: a, b"


async def test_streaming_returns_async_iterator_of_text() -> None:
    @agent(stream=True, model="demo/echo", **FAST)
    async def story(topic: str) -> None:
        """A story about {{ topic }} and the sea, told slowly."""

    stream = story("lighthouses")
    assert isinstance(stream, AsyncTextStream)
    pieces = [piece async for piece in stream]
    assert len(pieces) > 3
    assert "".join(pieces) == "A story about lighthouses and the sea, told slowly."
    assert stream.stats.completion_tokens == len(pieces)


async def test_agent_streaming_with_config(openai_server: OpenAIServer) -> None:
    config = LLMConfig(model="openai/ok", api_base=openai_server.api_base, api_key="sk-local-123456")

    @agent(stream=True, config=config, temperature=0.1, seed=3)
    async def echo(text: str) -> None:
        """{{ text }}"""

    assert "".join([p async for p in echo("configured")]) == "configured"
    body = openai_server.requests[-1]
    assert body["temperature"] == 0.1 and body["seed"] == 3 and body["stream"] is True


def test_tools_with_stream_is_a_clear_error() -> None:
    def lookup(city: str) -> str:
        return city

    with pytest.raises(StreamingNotSupportedError, match="stream=True"):

        @agent(stream=True, tools=[lookup], model="demo/echo")
        async def weather(city: str) -> None:
            """Weather in {{ city }}"""


def test_missing_docstring_is_a_clear_error() -> None:
    with pytest.raises(ConfigurationError, match="docstring"):

        @agent(model="demo/echo")
        def nothing() -> None:
            pass


def test_undefined_template_variable_is_named() -> None:
    @agent(model="demo/echo", **FAST)
    def broken(x: int) -> str:
        """Value {{ y }}"""

    with pytest.raises(TemplateError, match="'y' is undefined"):
        broken(1)


def test_braces_in_code_are_left_alone() -> None:
    @agent(model="demo/echo", **FAST)
    def review(code: str) -> str:
        """Review: {{ code }} and keep {"a": 1} and ${#arr[@]} as they are."""

    assert review("x = {}") == 'Review: x = {} and keep {"a": 1} and ${#arr[@]} as they are.'
