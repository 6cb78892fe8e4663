"""Tests for ``kagura_magic.markdown._heal``: the exact frames a user sees while the tail is open."""

from __future__ import annotations

import pytest

from kagura_magic.markdown import MarkdownStream
from tests.markdown_helpers import chunks_of, seen, stream_check

LINK = ' rel="noopener noreferrer"'
PY = '<pre><code class="language-python">'


@pytest.mark.parametrize(
    ("text", "html"),
    [
        # emphasis, strike and code spans are closed while open
        ("**bo", "<p><strong>bo</strong></p>\n"),
        ("Some *it", "<p>Some <em>it</em></p>\n"),
        # ``_`` is as likely an identifier (``__private_name``) as emphasis: held
        ("a _b c", "<p>a</p>\n"),
        ("a _b c_ d", "<p>a <em>b c</em> d</p>\n"),
        # ``*`` before punctuation waits for its closer: ``」**`` closes only before punctuation
        ("**「重要", ""),
        ("これは**「重要", "<p>これは**「重要</p>\n"),  # after は, ``**「`` opens nothing
        ("**「重要」**", ""),
        ("**「重要」**。", "<p><strong>「重要」</strong>。</p>\n"),
        ("**「重要」**で", "<p>**「重要」**で</p>\n"),
        ("**bold.**t", "<p>**bold.**t</p>\n"),  # its closer failed: both literal
        ("次に**注意", "<p>次に<strong>注意</strong></p>\n"),  # CJK has no spaces: not intraword
        ("~~del", "<p><s>del</s></p>\n"),
        ("use `df.sh", "<p>use <code>df.sh</code></p>\n"),
        ("**bold `co", "<p><strong>bold <code>co</code></strong></p>\n"),
        ("**bold and \n", "<p><strong>bold and</strong></p>\n"),
        ("**a** and *b", "<p><strong>a</strong> and <em>b</em></p>\n"),
        # a trailing delimiter run may open, close or grow: held back
        ("Hello *", "<p>Hello</p>\n"),
        ("Hello **", "<p>Hello</p>\n"),
        ("Hello ~", "<p>Hello</p>\n"),
        ("x `", "<p>x</p>\n"),
        ("**bold*", "<p><strong>bold</strong></p>\n"),
        # links and images
        ("See [the do", "<p>See</p>\n"),
        ("See [the docs]", "<p>See</p>\n"),
        ("See [the docs](htt", f'<p>See <a href="#"{LINK}>the docs</a></p>\n'),
        ("See [docs](https://d.org) ok", f'<p>See <a href="https://d.org"{LINK}>docs</a> ok</p>\n'),
        ("**See [the docs](htt", f'<p><strong>See <a href="#"{LINK}>the docs</a></strong></p>\n'),
        ("Pic ![alt](https://x.org/a.pn", "<p>Pic</p>\n"),
        ("A [bracket] aside", "<p>A [bracket] aside</p>\n"),
        # autolinks, entities, backslashes
        ("Go <https://exa", "<p>Go</p>\n"),
        ("a <b", "<p>a</p>\n"),
        ("a <b> c", "<p>a &lt;b&gt; c</p>\n"),
        ("see https://exa", f'<p>see <a href="https://exa"{LINK}>https://exa</a></p>\n'),
        ("AT&am", "<p>AT</p>\n"),
        ("AT&amp;T", "<p>AT&amp;T</p>\n"),
        ("a\\", "<p>a</p>\n"),
        ("a hard break\\\n", "<p>a hard break</p>\n"),
        # math
        ("Area $x^", "<p>Area</p>\n"),
        ("Costs $5 and", "<p>Costs $5 and</p>\n"),
        ("Costs $5", "<p>Costs</p>\n"),  # a price, or "$5^2$": the next character says which
        ("About $0.66", "<p>About</p>\n"),
        ("Above $10^", "<p>Above</p>\n"),
        ("a \\(x", "<p>a</p>\n"),
        ("Text\n$$\nx^2", "<p>Text</p>\n"),
        ("$$\nx^2\n$", ""),
        ("$$\nx^2\n$$\n", '<div class="math display mathjax_process tex2jax_process">\\[x^2\\]</div>\n'),
        # fences
        ("`", ""),
        ("``", ""),
        ("```", ""),
        ("```py", ""),
        ("```python", ""),
        ("```python\n", f"{PY}</code></pre>\n"),
        ("```python\nx", f'{PY}<span class="n">x</span>\n</code></pre>\n'),
        ("```python\nx\n`", f'{PY}<span class="n">x</span>\n</code></pre>\n'),
        ("```python\nx\n``", f'{PY}<span class="n">x</span>\n</code></pre>\n'),
        ("```python\nx\n```", f'{PY}<span class="n">x</span>\n</code></pre>\n'),
        ("~~~\na *b*\n", "<pre><code>a *b*\n</code></pre>\n"),
        ("    x = 1\n    y = `a", "<pre><code>x = 1\ny = `a\n</code></pre>\n"),
        ("- a\n  ```\n  b\n  `", "<ul>\n<li>a<pre><code>b\n</code></pre>\n</li>\n</ul>\n"),
        # block markers that are not yet certain
        ("Title\n-", "<p>Title</p>\n"),
        ("Title\n==", "<p>Title</p>\n"),
        ("Title\n---\n", '<h2 id="kagura-title">Title</h2>\n'),
        ("-", ""),
        ("- ", ""),
        ("1.", ""),
        ("2024", ""),
        ("2024 was", "<p>2024 was</p>\n"),
        ("- a", "<ul>\n<li>a</li>\n</ul>\n"),
        ("- [x", "<ul>\n<li></li>\n</ul>\n"),
        ("##", ""),
        ("## ", ""),
        ("## Ti", '<h2 id="kagura-ti">Ti</h2>\n'),
        ("## Title #", '<h2 id="kagura-title">Title</h2>\n'),
        (">", ""),
        ("> quo", "<blockquote>\n<p>quo</p>\n</blockquote>\n"),
        ("***", ""),
        # tables appear only when certain, rows only when complete
        ("| a | b |", ""),
        ("| a | b |\n", ""),
        ("| a | b |\n|--", ""),
        ("| a | b |\n|---|---|", ""),
        ("Intro\n| a | b |\n", "<p>Intro</p>\n"),
        ("a | b", ""),
        ("| a | b |\nplain text", "<p>| a | b |\nplain text</p>\n"),
        # definitions are invisible; references before them show as what they become
        ("[d]: https://ex", ""),
        ("Text[^1]", "<p>Text</p>\n"),
        (
            "Text[^1] more",
            '<p>Text<sup class="footnote-ref"><a href="#fn1" id="fnref1">[1]</a></sup> more</p>\n',
        ),
        ("Read [the docs][d] now", f'<p>Read <a href="#"{LINK}>the docs</a> now</p>\n'),
    ],
)
def test_healing_frame(text: str, html: str) -> None:
    assert seen(text) == html


def frames(text: str) -> list[str]:
    """Every distinct snapshot while ``text`` arrives character by character."""
    stream = MarkdownStream()
    out: list[str] = []
    for ch in text:
        stream.feed(ch)
        if not out or out[-1] != stream.snapshot():
            out.append(stream.snapshot())
    return out


def test_frames_of_a_sentence_with_bold_link() -> None:
    strong = "<p>See <strong>the {}</strong>{}</p>\n"
    done = f'<a href="https://d.org"{LINK}>docs</a>'
    assert frames("See **the [docs](https://d.org)** now") == [
        "<p>S</p>\n",
        "<p>Se</p>\n",
        "<p>See</p>\n",
        "<p>See <strong>t</strong></p>\n",
        "<p>See <strong>th</strong></p>\n",
        "<p>See <strong>the</strong></p>\n",
        strong.format(f'<a href="#"{LINK}>docs</a>', ""),
        strong.format(done, ""),
        strong.format(done, " n"),
        strong.format(done, " no"),
        strong.format(done, " now"),
    ]


def test_table_frames() -> None:
    head = "| a | b |\n|---|---|\n"
    short = '<th class="kagura-short">'
    table = f"<table>\n<thead>\n<tr>\n{short}a</th>\n{short}b</th>\n</tr>\n</thead>\n"
    assert seen(head) == table + "</table>\n"
    assert seen(head + "| 1 | 2") == table + "</table>\n"
    assert seen(head + "| 1 | 2 |\n") == (
        table + '<tbody>\n<tr>\n<td class="kagura-short">1</td>\n<td class="kagura-short">2</td>\n'
        "</tr>\n</tbody>\n</table>\n"
    )


# Answers in which a delimiter's meaning is decided only by a later character.
# None of them may show emphasis that later turns into literal markers, or
# drop underscores that come back.
UNCERTAIN_EMPHASIS = [
    "これは**「重要」**です。\n\n次に**注意**してください。\n",
    "**「重要」**です。\n\n**「重要」**。\n",
    "A **Note:** then **x**.\n",
    "中文**（注意）**内容，**重点**在这里。\n",
    "Sehr **„wichtig“**, und *(a)*b bleibt so.\n",
    'A **"quoted"** word and **"q"**s stay as typed.\n',
    "Call obj.__class__.__name__ or __init__ here.\n",
    "The name __private_thing is mangled, and a __x__y stays.\n",
    "Set `x` then read __all__, then __dunder__-style names.\n",
]


@pytest.mark.parametrize("text", UNCERTAIN_EMPHASIS)
@pytest.mark.parametrize("seed", [None, 1, 2, 3])
def test_uncertain_emphasis_never_changes_meaning(text: str, seed: int | None) -> None:
    chunks = list(text) if seed is None else chunks_of(text, seed, largest=5)
    stream_check(text, chunks)


def test_an_unclosed_underscore_is_shown_as_typed_after_the_hold_limit() -> None:
    text = "Use __private_name " + "and more words " * 8
    stream = MarkdownStream()
    stream.feed(text)
    assert "__private_name and more" in stream.snapshot()
