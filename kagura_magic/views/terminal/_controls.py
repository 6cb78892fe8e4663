"""Model text made safe for a terminal: control characters shown, never obeyed.

An answer is untrusted text, and a terminal obeys what it is sent: ``ESC ] 0;…
BEL`` sets the window title, ``ESC ] 52;c;… BEL`` writes the clipboard,
``ESC [2J`` clears the screen, ``ESC P`` (DCS) talks to the terminal itself,
and the C1 bytes U+0080–U+009F are the same introducers in one character
(U+009B is CSI). Making the introducers visible disarms every such
sequence, whatever follows them: ESC is shown as ``^[`` (caret notation), so
``ESC [2J`` reads ``^[[2J``.

Only newline and tab pass as they are; ``\\r\\n`` counts as a newline. A lone
``\\r`` would move the cursor back over what was written, so it is shown too.
The visible forms start with ``^`` or ``<`` and hold no Markdown syntax
that could begin a block (a reference definition needs ``[`` first, an HTML
tag a letter after ``<``), so the live view can replace them in the source it
renders and the layout stays the same.

Piped output (stdout not a terminal) does not come here: there the answer is
the raw Markdown, byte for byte.
"""

from __future__ import annotations

import re

__all__ = ["visible_controls"]

# C0 but tab and newline, a "\r" not starting "\r\n", DEL, C1.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]|\r(?!\n)")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20:
        return "^" + chr(code + 0x40)  # ESC ^[, BEL ^G, CR ^M, NUL ^@
    if code == 0x7F:
        return "^?"
    return f"<U+{code:04X}>"


def visible_controls(text: str) -> str:
    """``text`` with every control character but newline and tab shown in a visible form."""
    return _CONTROL.sub(_visible, text)
