"""litellm itself (kagura_magic/llm/_backend.py): loaded lazily and quietly, warmed, asked things."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kagura_magic import llm
from kagura_magic.llm import _backend as backend
from kagura_magic.providers.demo import DEMO_CONTEXT_WINDOW
from tests.openai_server import OpenAIServer

ROOT = Path(__file__).parents[1]


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(ROOT)!r})\n{code}"],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_import_does_not_import_litellm() -> None:
    result = run_python("import kagura_magic, kagura_magic.llm; print('litellm' in sys.modules)")
    assert result.stdout.strip() == "False", result.stderr


@pytest.mark.slow  # a fresh Python process that imports litellm
def test_no_litellm_banners_or_warnings_on_errors(openai_server: OpenAIServer) -> None:
    code = f"""
from kagura_magic import llm
from kagura_magic.config import LLMConfig
cfg = LLMConfig(model="openai/status-401", api_base={openai_server.api_base!r}, api_key="sk-x-123456")
try:
    list(llm.call_llm_stream("hi", cfg))
except Exception as e:
    print("ERR", type(e).__name__)
list(llm.call_llm_stream("hi", LLMConfig(model="demo/echo", extra={{"tokens_per_second": 0}})))
import os; print("LOCAL", os.environ.get("LITELLM_LOCAL_MODEL_COST_MAP"))
"""
    result = run_python(code)
    assert result.stdout.split() == ["ERR", "AuthenticationError", "LOCAL", "True"]
    assert result.stderr == ""


@pytest.mark.slow  # a fresh Python process that imports litellm
def test_warm_up_loads_litellm_and_runs_a_request_on_the_io_loop() -> None:
    code = """
import threading
from kagura_magic import llm
llm.warm_up()
print(llm.litellm_ready(), [t.name for t in threading.enumerate() if t.name == "kagura-io"])
"""
    result = run_python(code)
    assert result.stdout.split() == ["True", "['kagura-io']"], result.stderr
    assert result.stderr == ""


def test_context_window_from_litellm_or_a_conservative_default() -> None:
    assert llm.context_window("demo/echo") == DEMO_CONTEXT_WINDOW
    assert llm.context_window("no-such/model-at-all") == llm.DEFAULT_CONTEXT_WINDOW


def test_token_counts() -> None:
    messages = [{"role": "user", "content": "How many tokens is this sentence?"}]
    assert 5 < llm.count_tokens("gpt-4o-mini", messages) < 30
    assert backend.count_text_tokens("gpt-4o-mini", "Hello there") == 2


def test_cost_is_known_for_priced_models_and_none_otherwise() -> None:
    assert backend.cost("demo/echo", 10, 10) == 0.0
    priced = backend.cost("gpt-4o-mini", 1000, 1000)
    assert priced is not None and priced > 0
    assert backend.cost("openai/my-own-model", 10, 10) is None
    assert backend.cost("gpt-4o-mini", 10, None) is None


def test_offline_answers_about_a_model() -> None:
    assert backend.provider_of("gpt-4o-mini", None) == "openai"
    assert backend.provider_of("gpt-4o-mni", None) is None
    assert "gpt-4o-mini" in backend.close_model_names("gpt-4o-mni")
    assert backend.missing_keys("gpt-4o-mini", None) == ["OPENAI_API_KEY"]
    assert backend.supports_param("gpt-4o-mini", "openai", "stream_options")
