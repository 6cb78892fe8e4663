"""Bytes and CPU of the terminal view against a naive ``rich.Live`` re-render, in the same run.

    .venv/bin/python benchmarks/terminal_stream.py

For answers of about 1, 10 and 30 KB (realistic Markdown: prose, headings,
lists, a table, code, some CJK), streamed in ~4-character pieces at 600
tokens/s (a virtual clock, so no waiting) and at full speed (the real clock:
frames come as fast as the 20-a-second limit and the CPU allow), we drive

* ``ours``: ``LiveMarkdownView`` on an 80×24 terminal, and
* ``naive``: ``rich.Live(Markdown(all text so far), vertical_overflow="visible")``
  redrawn on exactly the frames ours drew (same text at each frame); "visible"
  is the only overflow mode that shows the whole answer.

and count the bytes each writes and the CPU each spends. ``final`` is the
bytes of the finished answer printed once; ``ours/final`` is the redraw
overhead (target ≤ 8 at 600 tok/s), ``naive/ours`` the saving (target ≥ 10).
"""

from __future__ import annotations

import io
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rich.console import Console
from rich.live import Live
from rich.markdown import Markdown

from kagura_magic.views import Outcome
from kagura_magic.views.terminal import LiveMarkdownView, Renderer

COLUMNS, LINES = 80, 24
PIECE = 4  # characters per streamed piece, about one token


# -- a realistic answer ------------------------------------------------------------------------
_WORDS = [
    "the",
    "data",
    "frame",
    "groups",
    "sales",
    "by",
    "region",
    "and",
    "month",
    "so",
    "that",
    "each",
    "total",
    "can",
    "be",
    "compared",
    "with",
    "last",
    "year",
    "while",
    "missing",
    "values",
    "are",
    "filled",
    "before",
    "the",
    "rolling",
    "mean",
    "smooths",
    "out",
    "noisy",
    "weeks",
    "and",
    "the",
    "chart",
    "shows",
    "growth",
    "clearly",
    "for",
    "every",
    "team",
    "involved",
    "in",
    "planning",
]


def _sentence(rnd: random.Random) -> str:
    words = rnd.sample(_WORDS, rnd.randint(8, 18))
    if rnd.random() < 0.3:
        words[2] = f"**{words[2]}**"
    if rnd.random() < 0.3:
        words[5] = f"`{words[5]}`"
    return " ".join(words).capitalize() + "."


def _section(rnd: random.Random, number: int) -> str:
    kind = number % 5
    parts = [
        f"## Part {number}: {rnd.choice(_WORDS)} {rnd.choice(_WORDS)}",
        " ".join(_sentence(rnd) for _ in range(4)),
    ]
    if kind == 0:
        parts.append("\n".join(f"{i}. {_sentence(rnd)}\n   - {_sentence(rnd)}" for i in range(1, 7)))
    elif kind == 1:
        code = [
            f"df_{i} = df.groupby('region')['sales'].rolling({i + 2}).mean()"
            for i in range(rnd.randint(8, 30))
        ]
        parts.append("```python\nimport pandas as pd\n\n" + "\n".join(code) + "\n```")
    elif kind == 2:
        rows = "\n".join(
            f"| {rnd.choice(_WORDS)} | {rnd.randint(10, 999)} | {rnd.random():.2f} |" for _ in range(6)
        )
        parts.append("| name | count | share |\n| --- | ---: | ---: |\n" + rows)
    elif kind == 3:
        parts.append("> " + _sentence(rnd) + " 売上は地域ごとに集計されます。")
    else:
        parts.append("\n".join(f"- {_sentence(rnd)}" for _ in range(5)))
    return "\n\n".join(parts)


def realistic_answer(size_bytes: int, seed: int = 0) -> str:
    """Markdown of about ``size_bytes`` bytes that looks like a model's answer."""
    rnd = random.Random(seed)
    sections = ["Here is an overview of the analysis, step by step."]
    number = 0
    while len("\n\n".join(sections).encode()) < size_bytes:
        number += 1
        sections.append(_section(rnd, number))
    return "\n\n".join(sections) + "\n"


def _answer(size_bytes: int) -> str:
    try:  # the shared generator, when the benchmarks have one
        from benchmarks.answers import realistic_answer as shared  # type: ignore[import-not-found]

        return shared(size_bytes, 0)
    except ImportError as error:
        print(f"(benchmarks.answers not usable: {error}; using this file's generator)")
        return realistic_answer(size_bytes, 0)


# -- the two views -------------------------------------------------------------------------------
class _Counter(io.TextIOBase):
    def __init__(self) -> None:
        self.bytes = 0

    def write(self, data: str) -> int:
        self.bytes += len(data.encode())
        return len(data)

    def isatty(self) -> bool:
        return True


class _VirtualClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Result:
    bytes: int
    cpu: float
    frames: int
    shown: list[int]  # characters on screen at each frame


def run_ours(text: str, tokens_per_second: float) -> Result:
    """Drive the view as ``pump`` does: feed, and draw a frame whenever one is due."""
    out = _Counter()
    virtual = tokens_per_second > 0
    clock = _VirtualClock() if virtual else time.monotonic
    view = LiveMarkdownView("bench", out=out, err=io.StringIO(), size=lambda: (COLUMNS, LINES), clock=clock,
                            color=True, spinner=False)  # fmt: skip
    shown: list[int] = []
    fed = 0
    original = view.region.update

    def update(*args: object, **kwargs: object) -> None:
        original(*args, **kwargs)  # type: ignore[arg-type]
        shown.append(fed)

    view.region.update = update  # type: ignore[method-assign]
    start = time.process_time()
    for index in range(0, len(text), PIECE):
        if virtual:
            clock.now += 1 / tokens_per_second  # type: ignore[union-attr]
            due = view.due_in()
            if due is not None and due <= 0:
                view.flush()
        view.feed(text[index : index + PIECE])
        fed = index + PIECE
        if view.due_in() == 0:
            view.flush()
    fed = len(text)
    view.settle(Outcome("complete", view.text))
    return Result(out.bytes, time.process_time() - start, view.frames, shown)


def run_naive(text: str, shown: list[int]) -> Result:
    """``rich.Live`` showing ``Markdown(text so far)``, redrawn on the same frames."""
    out = io.StringIO()
    console = Console(file=out, width=COLUMNS, height=LINES, force_terminal=True, color_system="256")
    start = time.process_time()
    with Live(console=console, auto_refresh=False, vertical_overflow="visible") as live:
        for length in shown:
            live.update(Markdown(text[:length]), refresh=True)
    return Result(len(out.getvalue().encode()), time.process_time() - start, len(shown), shown)


def final_bytes(text: str) -> int:
    return len(("\n".join(Renderer(COLUMNS - 1, color_system="256").rows(text)) + "\n").encode())


def main() -> None:
    print(f"terminal {COLUMNS}x{LINES}, pieces of {PIECE} characters; bytes in KB, CPU in seconds\n")
    header = (
        f"{'answer':>7} {'speed':>9} {'frames':>6} {'final':>7} {'ours':>8} {'naive':>9} "
        f"{'ours/final':>10} {'naive/ours':>10} {'cpu ours':>8} {'cpu naive':>9}"
    )
    print(header)
    print("-" * len(header))
    for size in (1_000, 10_000, 30_000):
        text = _answer(size)
        final = final_bytes(text)
        for label, speed in (("600 tok/s", 600.0), ("full", 0.0)):
            ours = run_ours(text, speed)
            naive = run_naive(text, ours.shown)
            print(
                f"{len(text.encode()) / 1000:>6.1f}K {label:>9} {ours.frames:>6} {final / 1000:>7.1f} "
                f"{ours.bytes / 1000:>8.1f} {naive.bytes / 1000:>9.1f} {ours.bytes / final:>10.2f} "
                f"{naive.bytes / ours.bytes:>10.1f} {ours.cpu:>8.2f} {naive.cpu:>9.2f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
