"""What this session's answers used and cost, by model and by chat (``%agent usage``), and the budget.

Each answer's ``StreamStats`` is added once it ends, whatever the ending: a
stopped or failed answer was billed for what it sent and what came back. The
counts are the provider's own usage where it reported one, else litellm's
estimate (the status line says which); the cost is litellm's price list.

``budget`` (USD, for the session) is checked before a cell is sent: the
estimated input cost of the request must fit in what is left. Only the input
can be known in advance; the answer's own cost is added once it has come.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from kagura_magic.llm import StreamStats


@dataclass
class Tally:
    """One model's (or chat's) running totals."""

    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    cost: float = 0.0
    unpriced_calls: int = 0  # calls whose model litellm has no price for
    estimated: bool = False  # some counts are litellm's estimate, not the provider's usage

    def add(self, stats: StreamStats) -> None:
        self.calls += 1
        self.input_tokens += stats.prompt_tokens or 0
        self.output_tokens += stats.completion_tokens or 0
        self.reasoning_tokens += stats.reasoning_tokens or 0
        if stats.cost is None:
            self.unpriced_calls += 1
        else:
            self.cost += stats.cost
        self.estimated = self.estimated or stats.tokens_estimated


class Ledger:
    """The session's usage; answers in the background add to it from their own threads."""

    def __init__(self) -> None:
        self.by_model: dict[str, Tally] = {}
        self.by_chat: dict[str, Tally] = {}
        self._lock = threading.Lock()

    def add(self, stats: StreamStats | None, chat: str | None) -> None:
        if stats is None:
            return
        with self._lock:
            self.by_model.setdefault(stats.model, Tally()).add(stats)
            self.by_chat.setdefault(chat or "(no history)", Tally()).add(stats)

    @property
    def spent(self) -> float:
        with self._lock:
            return sum(tally.cost for tally in self.by_model.values())

    def report(self, budget: float | None = None) -> str:
        """``%agent usage``: a table by model, then by chat, then the total (and the budget)."""
        with self._lock:
            if not self.by_model:
                return "No answers yet in this session."
            lines = [*_table("model", self.by_model), "", *_table("chat", self.by_chat)]
            total = Tally()
            for tally in self.by_model.values():
                total.calls += tally.calls
                total.cost += tally.cost
                total.unpriced_calls += tally.unpriced_calls
                total.estimated = total.estimated or tally.estimated
        lines += [
            "",
            f"Session total: {total.calls} call{'s' if total.calls != 1 else ''}, {usd(total.cost)}",
        ]
        if total.unpriced_calls:
            lines[-1] += f" ({total.unpriced_calls} without a price in litellm's list, not counted)"
        if budget is not None:
            lines.append(f"Budget: {usd(budget)}, {usd(max(budget - total.cost, 0.0))} left.")
        if total.estimated:
            lines.append("~: some counts are litellm's estimate (the provider reported no usage).")
        return "\n".join(lines)


def usd(amount: float) -> str:
    """Dollars as the estimate and the usage table show them (tiny amounts not as $0.0000)."""
    if amount == 0:
        return "$0.00"
    if amount < 0.0001:
        return "under $0.0001"
    return f"${amount:.4f}" if amount < 0.01 else f"${amount:.2f}"


def budget_refusal(budget: float | None, spent: float, input_cost: float | None) -> str | None:
    """Why a cell may not be sent under ``budget``, or None when it may."""
    if budget is None or input_cost is None:
        return None
    left = budget - spent
    if input_cost <= left:
        return None
    return (
        f"Not sent: this request's input alone would cost about {usd(input_cost)}, and "
        f"{usd(max(left, 0.0))} of the {usd(budget)} budget is left "
        f"(%agent usage shows what was spent).\n"
        "Raise it with %config AgentMagics.budget = …, or shorten the prompt or the history (--no-history)."
    )


def _table(title: str, tallies: dict[str, Tally]) -> list[str]:
    width = max(len(title), *(len(name) for name in tallies))
    head = f"{title:<{width}}  {'calls':>5}  {'input':>9}  {'output':>9}  {'reasoning':>9}  {'cost':>9}"
    rows = [head, "-" * len(head)]
    for name, tally in sorted(tallies.items()):
        mark = "~" if tally.estimated else " "
        cost = usd(tally.cost) if tally.calls > tally.unpriced_calls else "no price"
        counts = f"{tally.input_tokens:>8,}{mark}  {tally.output_tokens:>8,}{mark}"
        tokens = f"{counts}  {tally.reasoning_tokens:>9,}"
        rows.append(f"{name:<{width}}  {tally.calls:>5}  {tokens}  {cost:>9}")
    return rows
