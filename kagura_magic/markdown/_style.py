"""The stylesheet for rendered answers, scoped under ``.kagura-md``.

It must read well in JupyterLab's light and dark themes, so colours come from
JupyterLab's CSS variables (with fallbacks elsewhere) and backgrounds are
translucent tints rather than white or black. Code colours come from two
pygments styles; the dark one applies where JupyterLab says the theme is dark
(``data-jp-theme-light="false"`` on ``<body>``) or VS Code's dark body class.
"""

from __future__ import annotations

import re

from pygments.formatters import HtmlFormatter

__all__ = ["STYLESHEET", "stylesheet_for"]

_LIGHT_STYLE = "default"
_DARK_STYLE = "github-dark"
_DARK_SCOPE = ':is([data-jp-theme-light="false"], body.vscode-dark) .kagura-md pre'

# Backgrounds and borders come from our own rules; error tokens are left plain
# because half-typed code (an unclosed string) lexes as errors on every frame.
_DROP_DECLARATION = re.compile(r"\s*(?:background(?:-color)?|border)\s*:[^;}]*;?")


_RULE = re.compile(r"^(?P<scope>.+?) \.(?P<token>[\w-]+) \{(?P<body>[^}]*)\}")


def _token_rules(style: str, scope: str) -> list[tuple[str, str]]:
    """Pygments' token colours for ``style`` as (token class, declarations), without boxes or line numbers."""
    rules = []
    for line in HtmlFormatter(style=style).get_style_defs(scope).splitlines():
        if "linenos" in line or ".hll" in line or " .err " in line:
            continue
        match = _RULE.match(line)
        if match is None or match["scope"] != scope:
            continue  # the bare `pre { … }` rule sets a background
        body = _DROP_DECLARATION.sub("", match["body"]).strip().rstrip(";").strip()
        if body:
            rules.append((match["token"], body))
    return rules


_LIGHT_RULES = _token_rules(_LIGHT_STYLE, ".kagura-md pre")
_DARK_RULES = _token_rules(_DARK_STYLE, ".kagura-md pre")


def _token_css(tokens: set[str] | None = None) -> str:
    """Code colours for ``tokens`` (all when None), one rule per distinct declaration.

    Grouping the tokens that share declarations under ``:is()``, and dropping
    pygments' comments, keeps the sheet a fraction of pygments' own output; it
    is sent with every answer.
    """
    css = []
    for rules, scope in ((_LIGHT_RULES, ".kagura-md pre"), (_DARK_RULES, _DARK_SCOPE)):
        grouped: dict[str, list[str]] = {}
        for token, body in rules:
            if tokens is None or token in tokens:
                grouped.setdefault(body, []).append(f".{token}")
        for body, classes in grouped.items():
            selector = classes[0] if len(classes) == 1 else f":is({','.join(classes)})"
            css.append(f"{scope} {selector}{{{body}}}")
    return "\n".join(css)


_CLASS_ATTRIBUTE = re.compile(r'class="([^"]*)"')


def stylesheet_for(html: str) -> str:
    """The stylesheet ``html`` needs: the base rules, plus colours for the code tokens it uses."""
    if "<pre" not in html:
        return _BASE
    used = {name for value in _CLASS_ATTRIBUTE.findall(html) for name in value.split()}
    return _BASE + _token_css(used)


# Tables: ``overflow-wrap: normal`` because the answer's ``anywhere`` lowers every
# cell's minimum width to one letter, so a narrow output squeezed the columns and
# broke words ("Severit|y"); now a cell breaks only between words, headers and
# inline code not at all, and a table wider than the answer scrolls sideways.
# Cells align left unless the Markdown aligns them (an inline style wins), live and
# settled alike. In a settled HTML output JupyterLab right-aligns cells and sets
# code to pre-wrap with rules like ".jp-ThemedContainer .jp-RenderedHTMLCommon
# code"; ":not(#kagura-boost)" adds an id's weight to outrank them.
_BASE = """\
.kagura-md { color: var(--jp-content-font-color1, inherit); line-height: 1.55; overflow-wrap: anywhere; }
.kagura-md > :first-child { margin-top: 0; }
.kagura-md p, .kagura-md ul, .kagura-md ol, .kagura-md blockquote, .kagura-md pre,
.kagura-md table, .kagura-md .math.display { margin: 0.55em 0; }
.kagura-md h1, .kagura-md h2, .kagura-md h3, .kagura-md h4, .kagura-md h5, .kagura-md h6 {
  color: var(--jp-content-font-color0, inherit); margin: 0.9em 0 0.4em; line-height: 1.3; }
.kagura-md a { color: var(--jp-content-link-color, #1a73e8); }
.kagura-md code { font-family: var(--jp-code-font-family, monospace); font-size: 0.92em; }
.kagura-md :not(pre) > code { background: rgba(127, 127, 127, 0.16); padding: 0.08em 0.3em;
  border-radius: 3px; }
.kagura-md pre { background: rgba(127, 127, 127, 0.10); padding: 0.6em 0.8em; border-radius: 4px;
  overflow-x: auto; line-height: 1.4; }
.kagura-md pre code { background: transparent; padding: 0; font-size: 0.9em; }
.kagura-md blockquote { margin-left: 0; padding: 0.1em 1em;
  border-left: 3px solid var(--jp-border-color1, rgba(127, 127, 127, 0.5));
  color: var(--jp-content-font-color2, inherit); }
.kagura-md table { border-collapse: collapse; display: block; overflow-x: auto; overflow-wrap: normal; }
.kagura-md th, .kagura-md td { padding: 0.3em 0.7em;
  border: 1px solid var(--jp-border-color2, rgba(127, 127, 127, 0.35)); }
.kagura-md:not(#kagura-boost) :is(th, td code, td.kagura-short) { white-space: nowrap; }
.kagura-md:not(#kagura-boost) :is(th, td) { text-align: left; }
.kagura-md thead th { background: rgba(127, 127, 127, 0.14); }
.kagura-md tbody tr:nth-child(even) { background: rgba(127, 127, 127, 0.06); }
.kagura-md hr { border: none; border-top: 1px solid var(--jp-border-color2, rgba(127, 127, 127, 0.4)); }
.kagura-md .math.display { display: block; overflow-x: auto; }
.kagura-md .contains-task-list { list-style: none; padding-left: 1.2em; }
.kagura-md .task-list-item-checkbox { margin: 0 0.35em 0 -1.2em; vertical-align: middle; }
.kagura-md .footnotes { font-size: 0.9em; color: var(--jp-content-font-color2, inherit); }
.kagura-md .kagura-remote-image { text-decoration: none; border: 1px dashed var(--jp-border-color1,
  rgba(127, 127, 127, 0.5)); border-radius: 3px; padding: 0.1em 0.4em; }
.kagura-md .kagura-image-host { color: var(--jp-content-font-color2, inherit); font-size: 0.9em; }
.kagura-md .footnotes-sep { border: none;
  border-top: 1px solid var(--jp-border-color2, rgba(127, 127, 127, 0.4)); }
"""

STYLESHEET: str = _BASE + _token_css()
"""Everything any answer can need (a live view, before the answer is known)."""
