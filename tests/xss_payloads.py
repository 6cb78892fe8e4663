"""Script-injection attempts a model answer might carry (shared by the Markdown and browser tests).

Every payload tries to run ``window.__xss_fired = 1``; a browser test renders
each one and checks that the flag stays unset. Kept as plain data so any test
can import it.
"""

from __future__ import annotations

FIRE = "window.__xss_fired=1"

XSS_PAYLOADS: list[str] = [
    # raw HTML, inline and as blocks
    f"<script>{FIRE}</script>",
    f"Hello <script>{FIRE}</script> world",
    f"<SCRIPT SRC=data:text/javascript,{FIRE}></SCRIPT>",
    f"<img src=x onerror={FIRE}>",
    f'<img src="x" onerror="{FIRE}">',
    f"<svg onload={FIRE}>",
    f"<svg><script>{FIRE}</script></svg>",
    f'<iframe srcdoc="<script>parent.{FIRE}</script>"></iframe>',
    f'<iframe src="javascript:{FIRE}"></iframe>',
    f'<math><mtext><table><mglyph><style><img src=x onerror="{FIRE}">',
    f'<math href="javascript:{FIRE}">click</math>',
    f'<object data="javascript:{FIRE}"></object>',
    f'<embed src="javascript:{FIRE}">',
    f"<details open ontoggle={FIRE}>",
    f"<body onload={FIRE}>",
    f'<a href="javascript:{FIRE}">click</a>',
    f'<div style="background:url(javascript:{FIRE})" onmouseover="{FIRE}">x</div>',
    # Markdown links and images with dangerous schemes
    f"[click](javascript:{FIRE})",
    f"[click](JaVaScRiPt:{FIRE})",
    f"[click](javascript&#58;{FIRE})",
    f"[click](&#x6A;avascript:{FIRE})",
    f"[click](&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;{FIRE})",
    f"[click](<java\tscript:{FIRE}>)",
    f"[click](<java\nscript:{FIRE}>)",
    f"[click](java&#9;script:{FIRE})",
    f"[click](java&#x0A;script:{FIRE})",
    f"[click]( \x01javascript:{FIRE})",
    f"[click](%6Aavascript:{FIRE})",
    f"[click](javascript%3A{FIRE})",
    f"[click](ｊａｖａｓｃｒｉｐｔ:{FIRE})",
    f"[click](java\u200bscript:{FIRE})",
    f'<a href="vbscript:{FIRE}">x</a>',
    f"[click](VBScript:{FIRE})",
    f"[click](data:text/html,<script>{FIRE}</script>)",
    "[click](data:text/html;base64,PHNjcmlwdD53aW5kb3cuX194c3NfZmlyZWQ9MTwvc2NyaXB0Pg==)",
    "[click](file:///etc/passwd)",
    f"![img](javascript:{FIRE})",
    f"![img](data:image/svg+xml,<svg onload={FIRE}>)",
    f'![img](x "title\\" onerror=\\"{FIRE}")',
    f"[ref][evil]\n\n[evil]: javascript:{FIRE}",
    f"[evil]\n\n[evil]: <javascript:{FIRE}>",
    f"<javascript:{FIRE}>",
    f"<vbscript:{FIRE}>",
    f"<data:text/html,<script>{FIRE}</script>>",
    f'[x](https://example.com "a\\" onmouseover=\\"{FIRE}")',
    f"[x](https://example.com 'a' onclick='{FIRE}')",
    f"[<img src=x onerror={FIRE}>](https://example.com)",
    # code fences, math and footnotes carrying markup
    f'```"><img src=x onerror={FIRE}>\ncode\n```',
    f'~~~ " onmouseover="{FIRE}\nx\n~~~',
    f"```html\n<script>{FIRE}</script>\n```",
    f"`<script>{FIRE}</script>`",
    f"$</span><script>{FIRE}</script>$",
    f"$$\n</div><img src=x onerror={FIRE}>\n$$",
    f"\\(</span><svg onload={FIRE}>\\)",
    f"Note[^<img src=x onerror={FIRE}>]\n\n[^<img src=x onerror={FIRE}>]: x",
    f'Note[^x"onmouseover="{FIRE}]\n\n[^x"onmouseover="{FIRE}]: text',
    f"| a | b |\n|---|---|\n| <script>{FIRE}</script> | <img src=x onerror={FIRE}> |",
    f"> <iframe srcdoc='<script>{FIRE}</script>'>",
    f"- [ ] <img src=x onerror={FIRE}>",
    f"# <svg/onload={FIRE}>",
    f'https://example.com/"><script>{FIRE}</script>',
    f"www.example.com/<img src=x onerror={FIRE}>",
    f"&lt;script&gt;{FIRE}&lt;/script&gt; and &#60;script&#62;{FIRE}&#60;/script&#62;",
]
