"""``%agent usage`` and ``%config AgentMagics.budget`` (issue 16, item 4)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from kagura_magic.llm import StreamStats
from kagura_magic.usage import Ledger, budget_refusal
from tests.kernel_client import Kernel, loaded_kernel
from tests.openai_server import _PIECE, OpenAIServer, _last_user_text, _usage

# litellm's own price list, extended the way a user would for a self-hosted model.
PRICE = {"input_cost_per_token": 1e-4, "output_cost_per_token": 2e-4}


def test_the_ledger_adds_up_by_model_and_by_chat() -> None:
    ledger = Ledger()
    ledger.add(StreamStats(model="a", prompt_tokens=10, completion_tokens=5, cost=0.5), "default")
    ledger.add(
        StreamStats(model="a", prompt_tokens=20, completion_tokens=7, reasoning_tokens=3, cost=0.25), "x"
    )
    ledger.add(StreamStats(model="b", prompt_tokens=1, completion_tokens=1, cost=None), "default")
    assert ledger.spent == pytest.approx(0.75)
    assert (
        ledger.by_model["a"].calls,
        ledger.by_model["a"].input_tokens,
        ledger.by_model["a"].output_tokens,
    ) == (
        2,
        30,
        12,
    )
    assert ledger.by_model["a"].reasoning_tokens == 3 and ledger.by_chat["default"].calls == 2
    report = ledger.report(budget=1.0)
    assert "Session total: 3 calls, $0.75 (1 without a price in litellm's list, not counted)" in report
    assert "Budget: $1.00, $0.25 left." in report
    assert "no price" in report.splitlines()[3], "model b's row says it has no price"


def test_a_budget_refuses_only_what_would_pass_it() -> None:
    assert budget_refusal(None, 5.0, 1.0) is None, "no budget, no refusal"
    assert budget_refusal(1.0, 0.5, 0.4) is None
    refusal = budget_refusal(1.0, 0.5, 0.6)
    assert refusal is not None and "Not sent" in refusal and "$0.50 of the $1.00 budget is left" in refusal
    assert budget_refusal(1.0, 0.5, None) is None, "an unpriced model cannot be held to it"


@pytest.fixture(scope="module")
def kernel() -> Iterator[Kernel]:
    with loaded_kernel(env={"OPENAI_API_KEY": "sk-kernel-test-1"}) as k:
        yield k


def test_usage_and_budget_in_a_kernel(kernel: Kernel, openai_server: OpenAIServer) -> None:
    entry = {"openai/ok": {**PRICE, "litellm_provider": "openai", "mode": "chat", "max_input_tokens": 8000}}
    kernel.execute(f"import litellm; litellm.register_model({json.dumps(entry)})")
    base = f"-m openai/ok --api-base {openai_server.api_base}"
    for number, chat in enumerate(["default", "default", "side"]):
        run = kernel.execute(f"%%agent {base} --chat {chat}\nquestion number {number}", cell_id=f"u{number}")
        assert run.status == "ok", run.error
    usage = kernel.execute("%agent usage").stdout
    model_row = next(line for line in usage.splitlines() if line.startswith("openai/ok"))
    assert model_row.split()[1] == "3", usage
    assert any(line.startswith("side ") and line.split()[1] == "1" for line in usage.splitlines()), usage
    assert "Session total: 3 calls" in usage
    # What the server reported, priced from litellm's list: the ledger holds that, not an estimate.
    expected = 0.0
    for body in openai_server.requests[-3:]:
        text = _last_user_text(body)
        counts = _usage(body, text, len(_PIECE.findall(text)))
        expected += counts["prompt_tokens"] * PRICE["input_cost_per_token"]
        expected += counts["completion_tokens"] * PRICE["output_cost_per_token"]
    spent = kernel.execute(
        "print(get_ipython().magics_manager.registry['AgentMagics'].usage.spent)"
    ).stdout.strip()
    assert float(spent) == pytest.approx(expected), (spent, expected)
    kernel.execute(f"%config AgentMagics.budget = {float(spent) + 0.01}")
    try:
        sent = len(openai_server.requests)
        refused = kernel.execute(f"%%agent {base} --no-history\n" + "a long question " * 200)
        assert refused.status == "error" and "Not sent" in refused.error["traceback"][0], refused.error
        assert len(openai_server.requests) == sent, "a refused cell sends nothing"
        small = kernel.execute(f"%%agent {base} --no-history\nhi")
        assert small.status == "ok", "a request that fits is sent"
    finally:
        kernel.execute("%config AgentMagics.budget = None")
