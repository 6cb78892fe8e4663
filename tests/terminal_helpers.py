"""What the ``test_terminal_*`` files share: realistic answers and the reference picture.

**The reference picture** is the finished answer rendered at once by the same
renderer (``Renderer(columns - 1).rows``) and printed into a fresh emulator of
the same size. "Same picture" means: scrollback + screen equal to it cell by
cell (characters, colours, bold/italic/underline), at any speed.

**After a resize** from W1 to W2 columns, rows printed before the resize stay
as they were (a terminal does not re-render them; pyte, like xterm, clips them
on a shrink). "Same picture" then means: the picture is the reference at W1 up
to some row k (clipped to W2), followed by the reference at W2 from some row
j, and the content of those two parts together is exactly the answer's
content (no character lost or repeated; see ``content``). Everything after the
resize is wrapped at the new width, and no row of the old live region is left
behind.
"""

from __future__ import annotations

import re

from kagura_magic.views.terminal import Renderer, plain
from tests.pty_harness import Picture, replay


# -- realistic answers ---------------------------------------------------------------------
def code_block(lines: int = 200) -> str:
    body = []
    for i in range(lines):
        if i % 25 == 0:
            body.append(f"def stage_{i}(frame, factor={i}):")
            body.append(
                f'    """Scale column {i}: a docstring long enough to wrap at eighty columns, surely."""'
            )
        else:
            body.append(f"    frame['c{i}'] = frame['c{i - 1}'] * factor + {i}")
    return "```python\n" + "\n".join(body) + "\n```"


PROSE = " ".join(
    f"Sentence {i} explains how a streamed answer reaches the terminal without a line lost or repeated."
    for i in range(14)
)
TABLE = (
    "| Region | January | February | March | Status |\n| :----- | ------: | -------: | ----: | :----: |\n"
    + (
        "\n".join(
            f"| Region {i} | {100 + i}.5 | {110 + i}.0 | {120 + i}.8 | {'final' if i % 2 else 'draft'} |"
            for i in range(8)
        )
    )
)
NESTED = "\n".join(
    f"{i}. Step {i} uses **bold** words and `inline code`\n"
    f"   - detail {i}a, long enough to wrap around an eighty-column terminal at least once, really\n"
    f"   - detail {i}b"
    for i in range(1, 13)
)
CJK = "\n\n".join(
    [
        "## 日本語と中文のセクション 🎉",
        "これは日本語の段落です。ストリーミング中に文字が失われたり重複したりしないことを確認します。" * 3,
        "- 項目一：東京 🗼\n- 项目二：北京和上海的天气很好 😀\n- 항목 셋: 서울의 날씨",
        "> 引用：混合 text with English and 中文字符, plus emoji ✅ and 🚀 in one quote line that wraps.",
    ]
)
ANSWER = (
    "\n\n".join(
        [
            "# Streaming report",
            PROSE,
            "## A long code block",
            code_block(),
            "## Figures",
            TABLE,
            "## Steps",
            NESTED,
            CJK,
            "That is all, *thanks* for reading.",
        ]
    )
    + "\n"
)
SMALL = "\n\n".join([PROSE, code_block(40), NESTED, CJK]) + "\n"


# One colour system in this process: rich caches a style's escape codes on the style object,
# whatever the colour system, and pygments theme styles are shared between consoles.
SYSTEM = "256"


def reference_rows(text: str, columns: int, color: bool = True, system: str = SYSTEM) -> list[str]:
    return Renderer(columns - 1, color=color, color_system=system).rows(text)


def reference(text: str, size: tuple[int, int], color: bool = True, system: str = SYSTEM) -> Picture:
    """The finished answer printed at once (``system``: the colours the terminal claims)."""
    return replay("\n".join(reference_rows(text, size[0], color, system)) + "\n", *size)


_DECORATION = re.compile(r"[\s▌•─━│┃]")


def content(lines: list[str]) -> str:
    """What the rows say, independent of width: no spaces, rules, quote bars or bullets.

    Wrapping at another width moves line breaks and repeats a quote's bar on
    each row; the characters of the answer, in order, stay the same.
    """
    return _DECORATION.sub("", "".join(lines))


def assert_same_after_resize(
    picture: list[str], text: str, before: int, after: int, live_rows: int = 24
) -> None:
    """The picture is the reference at ``before`` columns, then at ``after``: nothing lost or doubled.

    The block that was open when the size changed may have had some rows printed
    at the old width already (the long-block rule), so at most ``live_rows``
    rows -- no more than the live region could hold -- between the two references
    may mix the widths; the content check still proves no word is lost or doubled.
    """
    ref1 = [plain(row).rstrip() for row in reference_rows(text, before)]
    ref2 = [plain(row).rstrip() for row in reference_rows(text, after)]
    clipped = [_clip_cells(row, after) for row in ref1]  # a shrink clips what was printed before
    whole = content(ref1)
    for k in range(min(len(picture), len(ref1)), -1, -1):
        if picture[:k] != clipped[:k]:
            continue
        for mixed in range(min(live_rows, len(picture) - k) + 1):
            rest = picture[k + mixed :]
            if rest == ref2[len(ref2) - len(rest) :] and content(ref1[:k] + picture[k:]) == whole:
                return
    raise AssertionError("picture is not the old-width reference followed by the new-width reference")


def _clip_cells(row: str, columns: int) -> str:
    """``row`` as a terminal of ``columns`` cells shows it after clipping (wide glyphs count two)."""
    from rich.cells import cell_len

    out, used = [], 0
    for char in row:
        used += cell_len(char)
        if used > columns:
            break
        out.append(char)
    return "".join(out).rstrip()
