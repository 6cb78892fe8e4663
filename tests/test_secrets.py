"""Every secret the process knows is masked, whatever its shape and whoever writes the message.

Keys are planted in the environment, in a config, in ``--param`` and inside
``api_base`` URLs; a local server echoes what it was sent (``echo-key-401``),
and the messages, reprs, log records, the CLI's stderr and a real kernel's
messages and saved notebook are searched for the raw values.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kagura_magic import llm, secrets
from kagura_magic.config import LLMConfig
from kagura_magic.errors import AgentError, AuthenticationError, TemplateError
from tests.kernel_client import Kernel
from tests.openai_server import OpenAIServer

# Distinctive keys of shapes the old ``sk-``/``key-`` rule did not know.
ENV_OPENAI = "gsk_live_Zq9Wv3Lr8Tn2Hx5Kd7Pm"
ENV_GEMINI = "AIzaSyD4-x9Qw7Er2Ty6Ui0Op3As5Df8Gh1Jk"
ENV_TOKEN = "hf_PlantedTokenValue4821XyZ"
PARAM_KEY = "prm_ParamKey_77Gf2Qp9Zs4Lm"
URL_PASSWORD = "urlPassw0rd_Ke8Rf3"
URL_USER = "proxyUser_9Wq2Mz"
QUERY_KEY = "qk_QueryKey_5Bn8Vc1Xz3"
SECRETS = [ENV_OPENAI, ENV_GEMINI, ENV_TOKEN, PARAM_KEY, URL_PASSWORD, URL_USER, QUERY_KEY]


@pytest.fixture
def planted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", ENV_OPENAI)
    monkeypatch.setenv("GEMINI_API_KEY", ENV_GEMINI)
    monkeypatch.setenv("HF_TOKEN", ENV_TOKEN)


def assert_no_secret(text: str) -> None:
    for value in SECRETS:
        assert value not in text, f"{value!r} shown in {text[:2000]!r}"


# -- which names and values are secret -------------------------------------------------------
@pytest.mark.parametrize(
    "name",
    [
        "api_key",
        "apiKey",
        "GROQ_API_KEY",
        "azure_ad_token",
        "aws_secret_access_key",
        "AWS_SESSION_TOKEN",
        "vertex_credentials",
        "ANTHROPIC_AUTH_TOKEN",
        "SNOWFLAKE_JWT",
        "WATSONX_ZENAPIKEY",
        "DB_PASSWORD",
        "sig",
    ],
)
def test_credential_names_are_secret(name: str) -> None:
    assert secrets.is_secret_name(name)


@pytest.mark.parametrize(
    "name", ["max_tokens", "TOKENIZERS_PARALLELISM", "OPENAI_API_BASE", "AWS_REGION", "temperature", "HOME"]
)
def test_other_names_are_not(name: str) -> None:
    assert not secrets.is_secret_name(name)


def test_every_credential_litellm_asks_any_provider_for_is_a_secret_name() -> None:
    """The rule is litellm's naming convention, checked against every provider it knows."""
    lit = llm.load_litellm()
    not_credentials = ("_API_BASE", "_BASE_URL", "_API_VERSION", "_PROJECT", "_LOCATION", "_ACCOUNT_ID")
    names: set[str] = set()
    for provider in lit.provider_list:
        found = lit.validate_environment(f"{getattr(provider, 'value', provider)}/some-model")
        names.update(found.get("missing_keys") or [])
    assert len(names) > 30  # litellm answered for many providers
    credentials = {n for n in names if not n.endswith(not_credentials) and "REGION" not in n}
    assert {"OPENAI_API_KEY", "GEMINI_API_KEY", "AWS_SECRET_ACCESS_KEY"} <= credentials
    assert sorted(n for n in credentials if not secrets.is_secret_name(n)) == []


def test_environment_keys_of_any_shape_are_masked(planted: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", f"postgres://{URL_USER}:{URL_PASSWORD}@db.internal/app")
    text = f"key {ENV_OPENAI}, {ENV_GEMINI} and {ENV_TOKEN}; db {URL_USER}:{URL_PASSWORD}"
    shown = secrets.mask(text)
    assert_no_secret(shown)
    assert shown.count("***") == 5


def test_short_and_non_secret_values_stay(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TINY_API_KEY", "a")
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false-and-long-enough")
    LLMConfig(model="demo/echo", api_key="short")
    text = "a short note: false-and-long-enough"
    assert secrets.mask(text) == text
    assert AgentError(text).message == text


def test_config_secrets_are_masked_in_errors_and_repr(planted: None) -> None:
    base = f"https://{URL_USER}:{URL_PASSWORD}@proxy.example/v1?api-version=1&key={QUERY_KEY}"
    config = LLMConfig(model="openai/x", api_base=base, extra={"api_key": PARAM_KEY, "max_tokens": 5})
    basic = base64.b64encode(f"{URL_USER}:{URL_PASSWORD}".encode()).decode()
    error = AuthenticationError(
        f"echoed {PARAM_KEY} {QUERY_KEY} {base} Basic {basic} {ENV_GEMINI}", f"hint {URL_PASSWORD}"
    )
    assert_no_secret(str(error))
    assert basic not in str(error)
    assert "proxy.example" in str(error) and "api-version=1" in str(error)
    assert_no_secret(repr(config))
    assert "proxy.example" in repr(config)


def test_a_numeric_param_key_and_a_percent_encoded_password_are_masked() -> None:
    LLMConfig(
        model="openai/x", api_base="https://bob:p%40ss-w0rd-long@h.example/v1", extra={"token": 98765432109}
    )
    shown = AgentError("sent 98765432109 as p@ss-w0rd-long and p%40ss-w0rd-long").message
    assert "98765432109" not in shown and "p@ss-w0rd-long" not in shown and "p%40ss" not in shown


def test_template_errors_that_quote_a_key_are_masked(planted: None) -> None:
    from kagura_magic.templating import render_template

    with pytest.raises(TemplateError) as caught:
        render_template("{{ int(env['GEMINI_API_KEY']) }}", {"int": int, "env": dict(os.environ)})
    assert ENV_GEMINI not in str(caught.value) and "***" in str(caught.value)


def test_litellm_log_records_are_masked(planted: None) -> None:
    llm.load_litellm()
    logger = logging.getLogger("LiteLLM")
    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(self.format(record))

    handler, level = Keep(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        logger.debug("headers: Authorization: Bearer %s", ENV_OPENAI)
        try:
            raise RuntimeError(f"bad key {ENV_GEMINI}")
        except RuntimeError:
            logger.exception("request failed")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert len(records) == 2 and records[0].startswith(
        "headers: Authorization: "
    )  # litellm's redaction, or ours
    assert "RuntimeError: bad key ***" in records[1]  # a traceback, which litellm does not redact
    assert_no_secret("\n".join(records))


# -- through the real request ------------------------------------------------------------------
def test_a_key_from_the_environment_echoed_by_the_provider_is_masked(
    planted: None, openai_server: OpenAIServer
) -> None:
    config = LLMConfig(model="openai/echo-key-401", api_base=openai_server.api_base, retry_backoff=0.01)
    with pytest.raises(AuthenticationError) as caught:
        list(llm.call_llm_stream("hi", config))
    assert openai_server.authorizations[-1] == f"Bearer {ENV_OPENAI}"  # the server did echo it
    assert "Incorrect API key provided: ***" in str(caught.value)
    assert_no_secret(str(caught.value))


def test_a_query_key_in_the_api_base_echoed_by_the_provider_is_masked(
    planted: None, openai_server: OpenAIServer
) -> None:
    config = LLMConfig(
        model="openai/echo-key-401",
        api_base=f"{openai_server.api_base}?key={QUERY_KEY}",
        extra={"api_key": PARAM_KEY},
        retry_backoff=0.01,
    )
    with pytest.raises(AuthenticationError) as caught:
        list(llm.call_llm_stream("hi", config))
    assert openai_server.authorizations[-1] == f"Bearer {PARAM_KEY}"
    assert "key=***" in str(caught.value)
    assert_no_secret(str(caught.value))


@pytest.mark.slow  # a CLI process that imports litellm
def test_the_cli_never_writes_a_key_to_stderr(openai_server: OpenAIServer) -> None:
    env = {**os.environ, "OPENAI_API_KEY": ENV_OPENAI, "GEMINI_API_KEY": ENV_GEMINI}
    runs = [
        ["--api-base", openai_server.api_base],
        ["--api-base", f"{openai_server.api_base}?key={QUERY_KEY}", "--param", f"api_key={PARAM_KEY}"],
    ]
    for extra in runs:
        result = subprocess.run(
            [sys.executable, "-m", "kagura_magic", "-m", "openai/echo-key-401", *extra, "hi"],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
        )
        assert result.returncode == 1
        assert "Incorrect API key provided: ***" in result.stderr
        assert_no_secret(result.stdout + result.stderr)
    assert {f"Bearer {ENV_OPENAI}", f"Bearer {PARAM_KEY}"} <= set(openai_server.authorizations)


# -- a real kernel: every message and the saved notebook -----------------------------------
def _cells(base: str) -> list[str]:
    port_base = base.replace("http://", f"http://{URL_USER}:{URL_PASSWORD}@")
    return [
        "%load_ext kagura_magic",
        f"%%agent -m openai/echo-key-401 --api-base {base}\nhi",
        f"%%agent -m openai/echo-key-401 --api-base {base} --param api_key={PARAM_KEY}\nhi",
        f"%%agent -m openai/echo-key-401 --api-base '{base}?key={QUERY_KEY}'\nhi",
        f"%%agent -m openai/echo-key-401 --api-base {port_base}\nhi",
        "%%agent -m demo/echo\n{{ int(__import__('os').environ['GEMINI_API_KEY']) }}",
        "from kagura_magic import LLMConfig\n"
        f"LLMConfig(model='openai/x', api_base='{port_base}?key={QUERY_KEY}')",
        "%agent config",
    ]


_KERNEL_ENV = {"OPENAI_API_KEY": ENV_OPENAI, "GEMINI_API_KEY": ENV_GEMINI, "HF_TOKEN": ENV_TOKEN}


@pytest.mark.slow  # a real kernel
def test_a_kernel_never_shows_a_planted_key(openai_server: OpenAIServer) -> None:
    kernel = Kernel(env=_KERNEL_ENV)
    try:
        executions = [kernel.execute(cell, timeout=90) for cell in _cells(openai_server.api_base)]
    finally:
        kernel.shutdown()
    # Every message but the echo of the cell's own source, where the user typed the --param key.
    messages = [m for e in executions for m in e.messages if m["msg_type"] != "execute_input"]
    text = json.dumps([m["content"] for m in messages], ensure_ascii=False)
    assert_no_secret(text)
    # The keys did travel, and the messages say what happened without them.
    assert f"Bearer {ENV_OPENAI}" in openai_server.authorizations
    assert f"Bearer {PARAM_KEY}" in openai_server.authorizations
    failed = [e.error for e in executions[1:6]]
    assert all(error is not None for error in failed), failed
    assert text.count("Incorrect API key provided: ***") >= 3
    stderr = "".join(e.stderr for e in executions)
    assert "Traceback" not in stderr


@pytest.mark.slow  # a real kernel, through nbclient, as a notebook is saved
def test_the_saved_notebook_never_holds_a_planted_key(openai_server: OpenAIServer, tmp_path: Path) -> None:
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in _cells(openai_server.api_base)]
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")} | _KERNEL_ENV
    NotebookClient(notebook, timeout=120, allow_errors=True, kernel_name="python3").execute(env=env)
    for cell in notebook.cells:
        cell.source = ""  # the user's own typing (a --param key) is theirs to keep; outputs are ours
    path = tmp_path / "saved.ipynb"
    nbformat.write(notebook, path)
    saved = path.read_text()
    assert_no_secret(saved)
    assert "Incorrect API key provided: ***" in saved
    errors = [o for cell in notebook.cells for o in cell.get("outputs", []) if o["output_type"] == "error"]
    assert len(errors) >= 5


def test_agent_config_masks_the_secrets_of_an_api_base_url() -> None:
    from kagura_magic import settings

    base = "https://proxyuser:hunter2-secret-pass@proxy.example/v1?key=qk_9f8e7d6c5b4a"
    values = {s.name: s.default for s in settings.SETTINGS if s.trait} | {"api_base": base}
    report = settings.report(values, {"api_base": "%config"}, [], environ={})
    assert "proxy.example" in report
    assert "hunter2-secret-pass" not in report and "qk_9f8e7d6c5b4a" not in report


def test_a_caller_iterator_error_that_quotes_a_key_is_masked(planted: None) -> None:
    from kagura_magic.answer import _unexpected

    key = os.environ["GEMINI_API_KEY"]
    assert key not in _unexpected(RuntimeError(f"bad key {key}"))
