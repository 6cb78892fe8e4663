"""Deterministic, realistic Markdown answers of a given size, for benchmarks.

``realistic_answer(size_bytes, seed)`` strings together the kinds of sections a
chat model writes about data work: headings, prose with emphasis, inline code
and links, tight and nested lists, tables, fenced code in a few languages,
blockquotes, a little math. The same size and seed give the same text.
"""

from __future__ import annotations

import random

__all__ = ["realistic_answer"]

_TOPICS = ["sales", "churn", "latency", "inventory", "revenue", "signups", "tickets", "costs"]
_COLUMNS = ["region", "month", "units", "price", "margin", "segment", "channel", "score"]
_VERBS = ["groups", "filters", "joins", "pivots", "resamples", "normalises", "ranks", "merges"]
_PHRASES = [
    "The data has **{n:,} rows** and *{m} columns*, so it fits in memory comfortably.",
    "Use `df.groupby('{c}')` to aggregate before plotting; it {v} the frame in one pass.",
    "See the [pandas user guide](https://pandas.pydata.org/docs/user_guide/{c}.html) for details.",
    "A quick check with `df.isna().sum()` shows **no missing values** in `{c}`.",
    "Growth was roughly {p}% quarter over quarter, with the strongest month in _{month}_.",
    "The median {t} is {n:,}, while the mean is pulled up by a few large outliers.",
    "If the variance matters, the standard error is $\\sigma/\\sqrt{{n}}$ for n = {m}0.",
    "This ~~naive~~ vectorised version avoids the Python loop entirely.",
    "Keep an eye on memory: `{c}` as `category` dtype saves about {p}% here.",
    "Prices are in dollars, e.g. $5 for the basic plan and $12 for the pro plan.",
    "More background is at https://en.wikipedia.org/wiki/Time_series if needed.",
    "In short, the {t} trend is *stable*, and the seasonal swing is **predictable**.",
]
_MONTHS = ["January", "March", "May", "July", "September", "November"]

_PYTHON = [
    "import pandas as pd",
    "df = pd.read_csv('{t}.csv', parse_dates=['month'])",
    "summary = df.groupby('{c}')['units'].agg(['sum', 'mean'])",
    "summary = summary.sort_values('sum', ascending=False)",
    "print(summary.head(10))",
    "df['{c}_share'] = df['units'] / df['units'].sum()",
    "for name, group in df.groupby('{c}'):",
    "    print(name, len(group))",
    "monthly = df.resample('MS', on='month')['units'].sum()",
]
_SQL = [
    "SELECT {c}, SUM(units) AS total",
    "FROM {t}",
    "WHERE month >= '2024-01-01'",
    "GROUP BY {c}",
    "ORDER BY total DESC;",
]
_BASH = ["pip install pandas matplotlib", "python analyse_{t}.py --input data/{t}.csv"]


class _Writer:
    """Draws sentences, tables and code from one seeded random source."""

    def __init__(self, seed: int) -> None:
        self.rnd = random.Random(seed)

    def _fill(self, template: str) -> str:
        r = self.rnd
        return template.format(
            n=r.randint(1_000, 900_000),
            m=r.randint(3, 40),
            p=r.randint(2, 60),
            c=r.choice(_COLUMNS),
            t=r.choice(_TOPICS),
            v=r.choice(_VERBS),
            month=r.choice(_MONTHS),
        )

    def paragraph(self) -> str:
        return " ".join(self._fill(self.rnd.choice(_PHRASES)) for _ in range(self.rnd.randint(2, 4)))

    def heading(self) -> str:
        level = self.rnd.choice(["##", "##", "###"])
        return f"{level} {self.rnd.choice(_TOPICS).title()} by {self.rnd.choice(_COLUMNS)}"

    def bullet_list(self) -> str:
        items = []
        ordered = self.rnd.random() < 0.4
        for index in range(self.rnd.randint(3, 6)):
            marker = f"{index + 1}." if ordered else "-"
            items.append(f"{marker} {self._fill(self.rnd.choice(_PHRASES))}")
            if self.rnd.random() < 0.25:
                pad = " " * (len(marker) + 1)
                items.append(f"{pad}- nested: `{self.rnd.choice(_COLUMNS)}` is *optional*")
        return "\n".join(items)

    def table(self) -> str:
        cols = self.rnd.sample(_COLUMNS, self.rnd.randint(3, 5))
        rows = ["| " + " | ".join(c.title() for c in cols) + " |"]
        rows.append("|" + "|".join(self.rnd.choice(["---", ":---", "---:"]) for _ in cols) + "|")
        for _ in range(self.rnd.randint(3, 8)):
            cells = [
                f"{self.rnd.randint(1, 9999):,}" if self.rnd.random() < 0.6 else self.rnd.choice(_TOPICS)
                for _ in cols
            ]
            rows.append("| " + " | ".join(cells) + " |")
        return "\n".join(rows)

    def code(self) -> str:
        lang, lines = self.rnd.choice([("python", _PYTHON), ("sql", _SQL), ("bash", _BASH)])
        count = self.rnd.randint(2, len(lines))
        body = "\n".join(self._fill(line) for line in lines[:count])
        return f"```{lang}\n{body}\n```"

    def quote(self) -> str:
        return "> **Note:** " + self._fill(self.rnd.choice(_PHRASES))

    def math(self) -> str:
        return "$$\n\\bar{x} = \\frac{1}{n} \\sum_{i=1}^{n} x_i\n$$"

    def section(self) -> list[str]:
        blocks = [self.heading(), self.paragraph()]
        for _ in range(self.rnd.randint(1, 3)):
            kind = self.rnd.choices(
                ["paragraph", "list", "table", "code", "quote", "math"], [5, 3, 2, 3, 1, 1]
            )[0]
            blocks.append(
                {
                    "paragraph": self.paragraph,
                    "list": self.bullet_list,
                    "table": self.table,
                    "code": self.code,
                    "quote": self.quote,
                    "math": self.math,
                }[kind]()
            )
        return blocks


def realistic_answer(size_bytes: int, seed: int = 0) -> str:
    """A Markdown answer of about ``size_bytes`` UTF-8 bytes (whole blocks, so a little over)."""
    writer = _Writer(seed)
    blocks = [f"Here is an overview of the {writer.rnd.choice(_TOPICS)} data."]
    size = len(blocks[0])
    while size < size_bytes:
        for block in writer.section():
            blocks.append(block)
            size += len(block.encode("utf-8")) + 2
            if size >= size_bytes:
                break
    return "\n\n".join(blocks) + "\n"
