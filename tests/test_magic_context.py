"""Notebook-native context in a real kernel: Err/In/Out/cell, %agent fix, formats, chats, settings."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.kernel_client import Execution, Kernel, loaded_kernel
from tests.openai_server import OpenAIServer

pytestmark = pytest.mark.slow  # a real kernel per module, and some tests start their own

ECHO = "-m demo/echo --param tokens_per_second=0"


@pytest.fixture(scope="module")
def kernel() -> Iterator[Kernel]:
    with loaded_kernel(env={"KAGURA_CONFIG": "/nonexistent/kagura.toml"}) as k:
        yield k


def set_next_input(execution: Execution) -> str | None:
    for payload in execution.reply["content"].get("payload", []):
        if payload.get("source") == "set_next_input":
            return payload["text"]
    return None


def printed(kernel: Kernel, expression: str) -> str:
    return kernel.execute(f"print({expression})").stdout


# -- context references ---------------------------------------------------------------
def test_err_in_out_and_cell_references(kernel: Kernel) -> None:
    failing = kernel.execute("numbers = [1, 2, 3]\nnumbers[10]")
    assert failing.status == "error"
    failing_count = failing.reply["content"]["execution_count"]
    result = kernel.execute("6 * 7")
    result_count = result.reply["content"]["execution_count"]
    cell = (
        f"%%agent {ECHO} --no-history -o sent\n"
        f"Error: {{{{ Err[-1] }}}}\nOut: {{{{ Out[{result_count}] }}}}\n"
        f"Code: {{{{ In[{failing_count}] }}}} / {{{{ cell({failing_count}) }}}}"
    )
    assert kernel.execute(cell).status == "ok"
    sent = printed(kernel, "sent")
    assert "IndexError: list index out of range" in sent and "numbers[10]" in sent
    assert "Out: 42" in sent
    assert sent.count("numbers = [1, 2, 3]") == 2
    assert "\x1b[" not in sent, "no terminal colour codes reach the model"


def test_large_values_are_summarised(kernel: Kernel) -> None:
    kernel.execute("big = list(range(100_000))")
    assert kernel.execute(f"%%agent {ECHO} --no-history -o sent\n{{{{ big }}}}").status == "ok"
    sent = printed(kernel, "sent")
    assert "[cut: first 50 of 100,000 items of a list]" in sent and len(sent) < 2000


def test_model_failures_do_not_count_as_errors_to_fix(kernel: Kernel) -> None:
    kernel.execute("1 / 0")
    kernel.execute("%%agent -m demo/nope --no-history\nhi")
    assert "ZeroDivisionError" in printed(kernel, "Err[-1]")


# -- %agent fix ---------------------------------------------------------------------------
def test_fix_sends_code_and_traceback_and_offers_the_next_cell(kernel: Kernel) -> None:
    source = "totals = {'a': 1}\ntotals['b'] + 1"
    assert kernel.execute(source).status == "error"
    run = kernel.execute(f"%agent fix {ECHO} -o explanation")
    assert run.status == "ok", run.error
    offered = set_next_input(run)
    assert offered == source + "\n", "the fenced code from the answer becomes the next cell"
    final = run.final_display()["data"]["text/markdown"]
    assert "KeyError: 'b'" in final and "corrected cell" in final


def test_fix_without_errors_says_so() -> None:
    fresh = Kernel(env={"KAGURA_CONFIG": "/nonexistent/kagura.toml"})
    try:
        fresh.execute("%load_ext kagura_magic")
        assert "No failing cell yet" in fresh.execute(f"%agent fix {ECHO}").stdout
    finally:
        fresh.shutdown()


# -- formats ------------------------------------------------------------------------------
def test_format_code_inserts_the_code_and_still_shows_the_answer(kernel: Kernel) -> None:
    run = kernel.execute(
        f"%%agent {ECHO} --no-history -f code -o code\nUse this:\n```python\nprint('hi')\n```"
    )
    assert set_next_input(run) == "print('hi')\n"
    assert "print" in run.final_display()["data"]["text/html"]
    assert printed(kernel, "repr(code)").strip() == repr("print('hi')\n")


def test_format_json_parses_into_the_variable(kernel: Kernel) -> None:
    run = kernel.execute(
        f'%%agent {ECHO} --no-history -f json -o data\n```json\n{{"rows": 3, "ok": true}}\n```'
    )
    assert run.status == "ok", run.error
    assert printed(kernel, "data") == "{'rows': 3, 'ok': True}\n"
    final = run.final_display()["data"]
    assert final["application/json"] == {"rows": 3, "ok": True}
    assert "&quot;rows&quot;" in final["text/html"] or '"rows"' in final["text/html"]


def test_format_json_invalid_is_a_clear_error(kernel: Kernel) -> None:
    run = kernel.execute(f"%%agent {ECHO} --no-history -f json\nnot json at all")
    assert run.status == "error"
    assert "not valid JSON" in run.error["traceback"][0]


def test_format_json_cut_at_the_token_limit_says_so(kernel: Kernel, openai_server: OpenAIServer) -> None:
    """Invalid JSON because the answer was cut off is not the prompt's fault."""
    kernel.execute("import os; os.environ['OPENAI_API_KEY'] = 'sk-kernel-test-json'")
    base = openai_server.api_base
    run = kernel.execute(f"%%agent -m openai/cut-json --api-base {base} --no-history -f json\ngive me json")
    kernel.execute("del os.environ['OPENAI_API_KEY']")
    assert run.status == "error"
    message = "\n".join(run.error["traceback"])
    assert "not valid JSON" in message and "--max-tokens" in message and "Traceback" not in message


def test_format_html_is_sanitised(kernel: Kernel) -> None:
    payload = (
        "<h3>Title</h3><b>bold</b><script>window.__xss_fired=1</script>"
        '<img src=x onerror="window.__xss_fired=1">'
    )
    run = kernel.execute(f"%%agent {ECHO} --no-history --no-template -f html\n{payload}")
    html = run.final_display()["data"]["text/html"]
    assert "<h3>Title</h3>" in html and "<b>bold</b>" in html
    assert "<script" not in html and "onerror" not in html and "__xss_fired" not in html


def test_format_text_is_verbatim(kernel: Kernel) -> None:
    run = kernel.execute(f"%%agent {ECHO} --no-history -f text\n**not bold** <i>\n  indented")
    html = run.final_display()["data"]["text/html"]
    assert "**not bold** &lt;i&gt;" in html and "<strong>" not in html
    assert "  indented" in html


def test_default_format_from_config(kernel: Kernel) -> None:
    kernel.execute("%config AgentMagics.default_format = 'text'")
    try:
        run = kernel.execute(f"%%agent {ECHO} --no-history\n**stays raw**")
        assert "**stays raw**" in run.final_display()["data"]["text/html"]
    finally:
        kernel.execute("%config AgentMagics.default_format = 'markdown'")


# -- conversations --------------------------------------------------------------------------
def test_named_chats_are_separate(kernel: Kernel, openai_server: OpenAIServer) -> None:
    kernel.execute("import os; os.environ['OPENAI_API_KEY'] = 'sk-kernel-test-1'\n%agent reset")
    base = f"-m openai/ok --api-base {openai_server.api_base}"
    kernel.execute(f"%%agent {base} --chat data\nWe study penguins.", cell_id="c1")
    kernel.execute(f"%%agent {base} --chat plots\nUse seaborn.", cell_id="c2")
    kernel.execute(f"%%agent {base} --chat data\nWhich species?", cell_id="c3")
    assert [m["content"] for m in openai_server.requests[-1]["messages"]] == [
        "We study penguins.",
        "We study penguins.",
        "Which species?",
    ]
    shown = kernel.execute("%agent history --chat plots").stdout
    assert "Use seaborn." in shown and "penguins" not in shown and "Other conversations: data" in shown
    kernel.execute("%agent reset --chat data")
    assert "No exchanges" in kernel.execute("%agent history --chat data").stdout
    kernel.execute("%agent reset --chat plots\ndel os.environ['OPENAI_API_KEY']")


def test_history_is_trimmed_to_the_context_window(kernel: Kernel, openai_server: OpenAIServer) -> None:
    kernel.execute("import os; os.environ['OPENAI_API_KEY'] = 'sk-kernel-test-1'\n%agent reset")
    base = f"-m openai/ok --api-base {openai_server.api_base}"
    for index in range(4):
        kernel.execute(f"%%agent {base}\nExchange number {index} " + "word " * 30, cell_id=f"t{index}")
    # openai/ok is unknown to litellm: a 16,000-token window is assumed; leave room for ~2 exchanges.
    kernel.execute(f"%%agent {base} --max-tokens 15800\nLast question", cell_id="t-last")
    contents = [m["content"] for m in openai_server.requests[-1]["messages"]]
    assert contents[-1] == "Last question"
    assert any("Exchange number 3" in c for c in contents), "the newest exchange is kept"
    assert not any("Exchange number 0" in c for c in contents), "the oldest is trimmed first"
    kernel.execute("%config AgentMagics.max_tokens = 15800\n%config AgentMagics.model = 'openai/ok'")
    shown = kernel.execute("%agent history").stdout
    assert "[trimmed]" in shown and "tokens" in shown
    kernel.execute("%config AgentMagics.max_tokens = None\n%config AgentMagics.model = None\n%agent reset")
    kernel.execute("del os.environ['OPENAI_API_KEY']")


# -- models and settings ----------------------------------------------------------------------
def test_models_list_with_context_and_price(kernel: Kernel) -> None:
    demo = kernel.execute("%agent models demo").stdout
    assert "demo/showcase" in demo and "128,000 tokens" in demo
    anthropic = kernel.execute("%agent models anthropic").stdout
    assert "claude" in anthropic and "/M output tokens" in anthropic


def test_unknown_model_suggests(kernel: Kernel) -> None:
    run = kernel.execute("%%agent -m gpt-4o-mni --no-history\nhi")
    assert "Did you mean gpt-4o-mini" in run.error["traceback"][0]


def test_user_config_file_sets_defaults_and_sources(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        'model = "demo/echo"\nformat = "text"\n[params]\ntokens_per_second = 0\napi_key = "sk-hidden-123"\n'
    )
    k = Kernel(env={"KAGURA_CONFIG": str(path), "OPENAI_API_KEY": "sk-should-be-masked"})
    try:
        k.execute("%load_ext kagura_magic")
        run = k.execute("%%agent --no-history\n**raw**")
        assert run.status == "ok", run.error
        assert "**raw**" in run.final_display()["data"]["text/html"], "format = text from the file"
        k.execute("%config AgentMagics.temperature = 0.5")
        shown = k.execute("%agent config").stdout
        assert "'demo/echo'" in shown and f"[config file {path}]" in shown
        assert "temperature     0.5" in shown and "[%config]" in shown
        assert "sk-hidden-123" not in shown and "sk-should-be-masked" not in shown
        assert "OPENAI_API_KEY=***" in shown
    finally:
        k.shutdown()


def test_broken_config_file_warns_and_loads(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("model = \n")
    k = Kernel(env={"KAGURA_CONFIG": str(path)})
    try:
        run = k.execute("%load_ext kagura_magic")
        assert run.status == "ok" and "not read" in run.stdout
        assert k.execute("%%agent -m demo/echo --param tokens_per_second=0\nstill works").status == "ok"
    finally:
        k.shutdown()


def test_json_output_is_json_serialisable_in_the_notebook(kernel: Kernel) -> None:
    run = kernel.execute(f"%%agent {ECHO} --no-history -f json\n[1, 2, 3]")
    final = run.final_display()
    json.dumps(final)  # what nbformat will store
    assert final["data"]["application/json"] == [1, 2, 3]
