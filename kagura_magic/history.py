"""The conversation a notebook builds up, one exchange per cell.

Keyed by the cell's id (JupyterLab and nbclient send it with each execute
request), so re-running a cell replaces that cell's exchange instead of
stacking a near-duplicate; order follows the latest runs. Where no cell id
exists (terminal IPython), the prompt text stands in for it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace

from kagura_magic.images import PromptImage
from kagura_magic.llm import Message
from kagura_magic.prompt import Prompt, text_of

ANSWER_ROOM = 1024  # tokens kept free for the answer when max_tokens is not set


@dataclass(frozen=True)
class Exchange:
    key: str
    prompt: str | Prompt  # a Prompt when it had pictures: they are sent again with it
    answer: str
    model: str
    # The model thought first. Its thinking is never sent back: it costs tokens, and
    # providers reject or ignore it in an assistant message; the history says so.
    thought: bool = False

    def messages(self) -> list[Message]:
        content = self.prompt.content() if isinstance(self.prompt, Prompt) else self.prompt
        return [{"role": "user", "content": content}, {"role": "assistant", "content": self.answer}]


def exchange_key(cell_id: str | None, prompt: str) -> str:
    """The cell's id, or a hash of the prompt: of any string (a lone surrogate hashes too)."""
    return cell_id or "prompt:" + hashlib.sha1(prompt.encode("utf-8", "surrogatepass")).hexdigest()[:12]


class Conversation:
    def __init__(self) -> None:
        # None: the place of a background answer still streaming, kept so that it is
        # recorded in the order the cells were run, whenever it ends.
        self._exchanges: dict[str, Exchange | None] = {}
        # Every picture the exchanges hold, once: the same plot in three cells is one copy.
        self._pictures: dict[str, PromptImage] = {}

    def __len__(self) -> int:
        return len(self.exchanges)

    @property
    def exchanges(self) -> list[Exchange]:
        return [exchange for exchange in self._exchanges.values() if exchange is not None]

    def reserve(self, key: str) -> None:
        """Keep the place of the exchange ``key`` for when its (background) answer ends."""
        self._exchanges.pop(key, None)
        self._exchanges[key] = None

    def record(self, exchange: Exchange) -> None:
        """Add an exchange; one from the same cell replaces the earlier one (at its reserved place)."""
        if isinstance(exchange.prompt, Prompt):
            exchange = replace(exchange, prompt=exchange.prompt.interned(self._pictures))
        if not (exchange.key in self._exchanges and self._exchanges[exchange.key] is None):
            self._exchanges.pop(exchange.key, None)
        self._exchanges[exchange.key] = exchange
        self._forget_unused_pictures()

    def _forget_unused_pictures(self) -> None:
        used = {
            image.digest for e in self.exchanges if isinstance(e.prompt, Prompt) for image in e.prompt.images
        }
        self._pictures = {digest: image for digest, image in self._pictures.items() if digest in used}

    @property
    def pictures(self) -> list[PromptImage]:
        """The pictures this conversation holds, each once."""
        return list(self._pictures.values())

    def release(self, key: str) -> None:
        """Give up a reserved place: the answer ended with nothing to go on from."""
        if key in self._exchanges and self._exchanges[key] is None:
            del self._exchanges[key]

    def reset(self) -> None:
        self._exchanges.clear()
        self._pictures.clear()

    def plan(
        self, key: str, budget: int, count: Callable[[list[Message]], int]
    ) -> list[tuple[Exchange, int, bool]]:
        """Each earlier exchange (not cell ``key``'s own) with its token cost and whether it fits.

        Newest are kept first, oldest trimmed first, until ``budget`` tokens are used.
        """
        earlier = [e for e in self.exchanges if e.key != key]
        costs = [count(e.messages()) for e in earlier]
        kept = [False] * len(earlier)
        used = 0
        for index in range(len(earlier) - 1, -1, -1):
            if used + costs[index] > budget:
                break
            used += costs[index]
            kept[index] = True
        return list(zip(earlier, costs, kept, strict=True))

    def history_for(
        self, key: str, budget: int, count: Callable[[list[Message]], int]
    ) -> tuple[list[Message], int]:
        """The messages of the exchanges that fit (see ``plan``), and how many were dropped."""
        planned = self.plan(key, budget, count)
        messages = [m for exchange, _cost, kept in planned if kept for m in exchange.messages()]
        return messages, sum(1 for _e, _c, kept in planned if not kept)

    def report(self, name: str, budget: int, count: Callable[[list[Message]], int], model: str | None) -> str:
        """``%agent history``: what the next cell sends of this conversation, and what is trimmed."""
        if not len(self):
            return (
                f"No exchanges in conversation {name!r} yet: %%agent cells add to it (unless --no-history)."
            )
        planned = self.plan("", budget, count)  # "" is no cell's key: the plan for the next cell
        used = sum(cost for _e, cost, kept in planned if kept)
        total = sum(cost for _e, cost, _kept in planned)
        sent = sum(1 for _e, _cost, kept in planned if kept)
        lines = [
            f"Conversation {name!r}: {len(planned)} exchange(s), {total:,} tokens; "
            f"the next cell sends {sent} ({used:,} of a {budget:,}-token budget"
            + (f" for {model}" if model else "")
            + "):"
        ]
        for number, (exchange, cost, kept) in enumerate(planned, 1):
            text = text_of(exchange.prompt).strip()
            prompt = text.splitlines()[0][:60] if text else ""
            trimmed = ("" if kept else "  [trimmed]") + ("  [thinking left out]" if exchange.thought else "")
            cell = exchange.key if not exchange.key.startswith("prompt:") else "(no cell id)"
            lines.append(
                f"  {number}. {cell[:12]:<12} {exchange.model:<16} {cost:>6,} tokens  {prompt!r}{trimmed}"
            )
        return "\n".join(lines)
