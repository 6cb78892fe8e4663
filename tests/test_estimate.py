"""``--dry-run`` and ``%agent estimate``: what a cell would send, counted and priced, and nothing sent."""

from __future__ import annotations

import pytest

from kagura_magic import estimate
from tests.kernel_client import Kernel
from tests.openai_server import OpenAIServer


def test_the_estimate_counts_with_litellm_and_prices_with_its_list() -> None:
    import litellm

    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Explain tides."}]
    result = estimate.estimate("gpt-4o-mini", messages)
    assert result.total == litellm.token_counter(model="gpt-4o-mini", messages=messages)
    assert result.tokens == [litellm.token_counter(model="gpt-4o-mini", messages=[m]) for m in messages]
    prompt_cost, _ = litellm.cost_per_token(
        model="gpt-4o-mini", prompt_tokens=result.total, completion_tokens=0
    )
    assert result.input_cost == pytest.approx(prompt_cost) and result.input_cost > 0
    assert result.window == litellm.get_model_info("gpt-4o-mini")["max_input_tokens"]
    line = estimate.summary_line(result)
    assert f"{result.total:,} tokens of a {result.window:,}-token context window" in line


def test_an_unknown_model_is_counted_but_not_priced() -> None:
    result = estimate.estimate("openai/my-local-model", [{"role": "user", "content": "hi"}])
    assert result.total > 0 and result.window is None and result.input_cost is None
    line = estimate.summary_line(result)
    assert "does not know this model's context window" in line and "no price" in line


def test_the_estimate_shows_every_message_escaped() -> None:
    messages = [{"role": "user", "content": "<script>alert(1)</script> and **bold**"}]
    shown = estimate.bundle(estimate.estimate("demo/echo", messages))
    assert (
        "<script>" not in shown["text/html"] and "&lt;script&gt;alert(1)&lt;/script&gt;" in shown["text/html"]
    )
    assert "<script>alert(1)</script> and **bold**" in shown["text/plain"], "the exact text, in full"
    assert shown["text/plain"].startswith("Dry run: nothing was sent to demo/echo.")


def test_a_dry_run_sends_nothing_and_shows_the_history_it_would_send(
    kernel: Kernel, openai_server: OpenAIServer
) -> None:
    kernel.execute("%agent reset\nimport os; os.environ['OPENAI_API_KEY'] = 'sk-kernel-test-1'")
    base = f"-m openai/ok --api-base {openai_server.api_base}"
    kernel.execute(f"%%agent {base}\nFirst question", cell_id="e1")
    sent_before = len(openai_server.requests)
    run = kernel.execute(
        f"%%agent --dry-run {base} --system 'Be brief.'\nSecond {{{{ 6 * 7 }}}}", cell_id="e2"
    )
    assert run.status == "ok", run.error
    assert len(openai_server.requests) == sent_before, "a dry run sends nothing"
    shown = run.of_type("display_data")[0]["content"]["data"]["text/plain"]
    assert shown.startswith("Dry run: nothing was sent to openai/ok.")
    order = [shown.index(part) for part in ("1. system", "Be brief.", "2. user", "First question",
                                            "3. assistant", "4. user", "Second 42")]  # fmt: skip
    assert order == sorted(order), shown
    assert "4 messages" in shown
    history = kernel.execute("%agent history").stdout
    assert "Second" not in history, "a dry run is not an exchange"
    line = kernel.execute(f"%agent estimate {base} Second question")
    assert "Dry run: nothing was sent" in line.of_type("display_data")[0]["content"]["data"]["text/plain"]
    assert len(openai_server.requests) == sent_before
    kernel.execute("del os.environ['OPENAI_API_KEY']\n%agent reset")


def test_a_dry_run_needs_no_api_key(kernel: Kernel) -> None:
    run = kernel.execute("%%agent --dry-run -m gpt-4o-mini --no-history\nHow much would this cost")
    assert run.status == "ok", run.error
    shown = run.of_type("display_data")[0]["content"]["data"]["text/plain"]
    assert "input cost $" in shown or "input cost under $0.0001" in shown, shown
