from __future__ import annotations

import pytest

from kagura_magic.formats import (
    FormatError,
    code_blocks,
    code_for_next_cell,
    fenced,
    parse_json_answer,
    sanitize_html,
)

ANSWER = """Here is the fix.

```python
x = 1
```

Run it with:

```bash
python x.py
```

```python
print(x)
```
"""


def test_code_blocks_in_order_with_language() -> None:
    assert code_blocks(ANSWER) == [("python", "x = 1"), ("bash", "python x.py"), ("python", "print(x)")]


def test_code_blocks_inside_list_items_and_longer_fences() -> None:
    """Where models put code: under a numbered step, indented; a fence with backticks inside."""
    answer = (
        "1. Install it:\n\n   ```bash\n   pip install pandas\n   ```\n\n"
        "2. Then run:\n   ```python\n   import pandas as pd\n   if True:\n       print(pd)\n   ```\n\n"
        "````markdown\nUse ```python fences.\n````\n\n~~~py {.numbers}\nx = 2\n~~~\n"
    )
    assert code_blocks(answer) == [
        ("bash", "pip install pandas"),
        ("python", "import pandas as pd\nif True:\n    print(pd)"),
        ("markdown", "Use ```python fences."),
        ("py", "x = 2"),
    ]
    assert code_for_next_cell(answer) == "import pandas as pd\nif True:\n    print(pd)\n\nx = 2\n"


def test_next_cell_prefers_python_blocks() -> None:
    assert code_for_next_cell(ANSWER) == "x = 1\n\nprint(x)\n"
    assert code_for_next_cell("```sql\nselect 1\n```") == "select 1\n"
    assert code_for_next_cell("no code here") is None


def test_json_raw_or_fenced() -> None:
    assert parse_json_answer('{"a": [1, 2]}') == {"a": [1, 2]}
    assert parse_json_answer('Sure:\n```json\n{"b": true}\n```') == {"b": True}
    with pytest.raises(FormatError, match="not valid JSON"):
        parse_json_answer("{'single': 'quotes'}")


def test_sanitize_html_keeps_formatting_drops_script() -> None:
    clean = sanitize_html(
        '<p onclick="x()"><b>hi</b><script>bad()</script><a href="javascript:alert(1)">l</a></p>'
    )
    assert "<b>hi</b>" in clean
    for bad in ("script", "onclick", "javascript:"):
        assert bad not in clean


def test_fence_survives_backticks_inside() -> None:
    assert fenced("a ``` b") == "````\na ``` b\n````"
