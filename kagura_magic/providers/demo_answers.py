"""Canned answers of the offline ``demo/*`` models.

They are written like real model answers (a short intro, headings, a table,
code, math, links) so that the demo, the notebooks and the benchmarks exercise
what real answers contain, not a toy. A reply can also think first (as
structured reasoning, or inline in ``<think>`` tags) or be a tool call.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

SHOWCASE = r"""Here is a quick tour of what a streamed answer can look like.

## Monthly sales at a glance

The table below summarises **three regions** over the first quarter. Figures
are in *thousands of euros*, and ~~estimates~~ final numbers are marked.

| Region | January | February | March | Status |
| :----- | ------: | -------: | ----: | :----: |
| North  |   120.5 |    131.0 | 142.8 | final  |
| South  |    98.2 |    101.7 | 115.3 | final  |
| West   |    77.9 |     80.4 |  92.1 | draft  |

Growth from January to March is $g = \frac{x_{3} - x_{1}}{x_{1}}$, so North grew
by about 18.5%. Over $n$ months the average monthly rate is

$$
\bar{r} = \left(\frac{x_n}{x_1}\right)^{\frac{1}{n-1}} - 1
$$

## Reproducing it with pandas

```python
import pandas as pd

sales = pd.DataFrame(
    {"region": ["North", "South", "West"],
     "jan": [120.5, 98.2, 77.9],
     "mar": [142.8, 115.3, 92.1]}
)
sales["growth"] = (sales["mar"] - sales["jan"]) / sales["jan"]
print(sales.sort_values("growth", ascending=False))
```

## What to look at next

1. Check whether the **West** draft numbers are complete.
2. Compare with last year:
   - same months, same regions
   - adjust for the `price_index` column
3. Share the notebook with the team.

- [x] Load the data
- [ ] Validate the draft region

> Tip: prices of $5 and $10 in a sentence stay plain text, not math.

Further reading: the [pandas user guide](https://pandas.pydata.org/docs/user_guide/)
and <https://jupyter.org>.
"""

STORY = """# The Lighthouse Keeper's Notebook

On the last island before the open sea there was a lighthouse, and in the
lighthouse there lived a keeper named **Ines**, who kept two things with equal
care: the great lamp, and a notebook in which she wrote down every ship that
passed.

## The first winter

The first winter was the hardest. Storms came in from the west *one after
another*, and for eleven days no supply boat could reach the island. Ines
rationed her oil, her tea and her patience, in that order. In the notebook she
wrote short lines:

- *Day 3.* Wind from the west, force nine. No ships.
- *Day 6.* A trawler, far out, running for harbour. Lamp steady.
- *Day 11.* The supply boat at last. Oranges!

She learned that the lamp needed less attention than she had feared and the
notebook more. A lamp only has to shine; a record has to be *true*.

## The visitor

In spring a student arrived with a crate of instruments and a plan to measure
the tides. He was polite, a little lost, and entirely convinced that the sea
could be described by an equation. Ines showed him her notebook.

"Ten years of ships," she said. "Every one of them, with the hour and the
weather."

He read for a long time. Then he asked whether he could copy it, and she said
no, but he could read it every evening if he helped with the oil. So the
student carried oil up one hundred and twelve steps each night, and each night
he read, and slowly he stopped talking about equations and started talking
about *patterns*.

> The sea is not random, he said one evening. It is only patient.

## What the numbers said

By the end of the summer the student had a table, and he was very proud of it:

| Season | Ships per week | Storm days | Lamp failures |
| ------ | -------------: | ---------: | ------------: |
| Winter |              4 |         19 |             2 |
| Spring |             11 |          6 |             0 |
| Summer |             17 |          2 |             0 |
| Autumn |              9 |         12 |             1 |

"You see," he said, "ships follow the weather, and the lamp fails only when
the storms are worst. That is when it matters most."

Ines, who had known this for ten years, nodded as if it were news. It was
news, in a way. Written down in rows and columns it looked less like a life
and more like a *law*, and she found she did not mind.

## The last entry

The student left in autumn with his instruments and his table. Years later a
letter arrived with a printed paper inside. On the first page, under the
title, there was a line of thanks to "the keeper of the northern light, whose
records made this work possible."

That evening Ines opened the notebook, found the next empty line, and wrote:

1. *Wind from the south, light.*
2. *One letter, from a friend.*
3. *Lamp steady.*

Then she climbed the one hundred and twelve steps, checked the lamp, and
watched the ships go by.
"""

CODE = '''Here is a small, tested utility for reading large CSV files in chunks.

```python
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd


def iter_chunks(path: Path, size: int = 50_000) -> Iterator[pd.DataFrame]:
    """Yield the file in frames of at most `size` rows, so memory stays flat."""
    with pd.read_csv(path, chunksize=size) as reader:
        yield from reader


def total_by(path: Path, key: str, value: str) -> pd.Series:
    parts = [chunk.groupby(key)[value].sum() for chunk in iter_chunks(path)]
    return pd.concat(parts).groupby(level=0).sum()
```

And a test for it:

```python
def test_total_by(tmp_path):
    csv = tmp_path / "sales.csv"
    csv.write_text("region,amount\\nnorth,1\\nsouth,2\\nnorth,3\\n")
    assert total_by(csv, "region", "amount").to_dict() == {"north": 4, "south": 2}
```

Run it with:

```bash
python -m pytest -q
```

The chunked read keeps memory use at about `size × columns` values, whatever
the file size.
'''

# A reasoning model that writes its thinking inline, as DeepSeek-R1 or Qwen3 do through
# Ollama or vLLM: the <think> block is split off into the thinking section.
THINKER = """<think>
The question is how many **weekdays** fall between 3 March and 14 March, both included.

- 3 March is a Monday, so the range starts a week: Mon 3 to Fri 7 is 5 days.
- The weekend of 8 and 9 March does not count.
- Mon 10 to Fri 14 is another 5 days.

So 5 + 5 = 10. Check: 12 days in all, minus the 2 weekend days, is 10. Good.
</think>

**10 weekdays.** From Monday 3 March to Friday 14 March there are two full working
weeks (3–7 and 10–14 March); the weekend in between is left out.

| week | days | weekdays |
|------|------|---------:|
| 3–7 March | Mon–Fri | 5 |
| 10–14 March | Mon–Fri | 5 |

In pandas: `len(pd.bdate_range("2025-03-03", "2025-03-14"))` gives the same 10.
"""

# The same thinking and answer as structured reasoning (``delta.reasoning_content``), as
# OpenAI-compatible reasoning models, DeepSeek's API and litellm-mapped Claude send it.
_thinking, _, _answer = THINKER.removeprefix("<think>").partition("</think>")
THINKER_REASONING = _thinking.strip()
THINKER_ANSWER = _answer.lstrip()


@dataclass(frozen=True)
class ToolCall:
    """A function call the model asks for; ``arguments`` is the JSON text, as the API sends it."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class Reply:
    """What a demo model sends: thinking (``reasoning_content``), content, tool calls, in that order."""

    content: str = ""
    reasoning: str = ""
    tool_calls: tuple[ToolCall, ...] = ()

    @property
    def finish_reason(self) -> str:
        return "tool_calls" if self.tool_calls else "stop"


# A call-only answer, with no text: what a model given tools most often sends.
GET_WEATHER = ToolCall(
    id="call_demo_get_weather",
    name="get_weather",
    arguments=json.dumps({"city": "Paris", "unit": "celsius"}),
)

REPLIES: dict[str, Reply] = {
    "showcase": Reply(SHOWCASE),
    "story": Reply(STORY),
    "code": Reply(CODE),
    "thinker": Reply(THINKER_ANSWER, reasoning=THINKER_REASONING),
    "thinker-inline": Reply(THINKER),
    "tools": Reply(tool_calls=(GET_WEATHER,)),
}
"""The canned replies by model name (``demo/<name>``); ``demo/echo`` is not canned."""

ANSWERS: dict[str, str] = {name: reply.content for name, reply in REPLIES.items()}
"""Each canned model's content alone ("" for a tool call; ``<think>`` tags included inline)."""
