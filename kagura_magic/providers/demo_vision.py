"""What ``demo/vision`` answers: what it was really sent, so a notebook can show ``{{ fig }}`` offline.

It reads the image parts of the last user message as a provider would (the
data URLs litellm passes on), and answers with each picture's size, format
and main colours. The answer is computed from the bytes, never canned, so a
test or a reader can see that the plot itself arrived, and in which order.
"""

from __future__ import annotations

import base64
import colorsys
import io
from collections import Counter
from typing import Any

from kagura_magic.images import size_of_data_url

_SAMPLE_SIDE = 64  # pixels: the picture is shrunk to this before its colours are counted
_SHOWN_COLOURS = 3


def vision_reply(messages: list[dict[str, Any]]) -> str:
    users = [m for m in messages if m.get("role") == "user"]
    content = users[-1].get("content") if users else None
    parts = content if isinstance(content, list) else []
    urls = [_url(part) for part in parts if isinstance(part, dict) and part.get("type") == "image_url"]
    pictures = [url for url in urls if url]
    earlier = sum(
        1
        for message in messages[:-1]
        if isinstance(message.get("content"), list)
        for part in message["content"]
        if isinstance(part, dict) and part.get("type") == "image_url"
    )
    more = f" ({earlier} earlier image{'s' if earlier != 1 else ''} in this conversation.)"
    if not pictures:
        return (
            "I see no image in your message. Put one in the prompt where you want it: "
            '`{{ fig }}` for a matplotlib figure, `{{ image("plot.png") }}` for a file, '
            "or any PIL image or PNG bytes." + (more if earlier else "")
        )
    lines = [f"I see {len(pictures)} image{'s' if len(pictures) != 1 else ''}:", ""]
    for number, url in enumerate(pictures, 1):
        lines.append(f"{number}. {_describe(url)}")
    if earlier:
        lines += ["", f"Earlier in this conversation: {earlier} more image{'s' if earlier != 1 else ''}."]
    return "\n".join(lines) + "\n"


def _url(part: dict[str, Any]) -> str | None:
    image_url = part.get("image_url")
    url = image_url.get("url") if isinstance(image_url, dict) else image_url
    return url if isinstance(url, str) else None


def _describe(url: str) -> str:
    size = size_of_data_url(url)
    if size is None:
        return f"a linked image I cannot open offline ({url[:60]})"
    colours = _main_colours(url)
    return f"**{size}**" + (f": {colours}" if colours else "")


def _main_colours(url: str) -> str | None:
    """``mostly white (81%), then blue (12%) and black (4%)``; None without Pillow."""
    try:
        import PIL.Image
    except ImportError:
        return "(install Pillow to let demo/vision see its colours)"
    try:
        data = base64.b64decode(url.partition(";base64,")[2])
        with PIL.Image.open(io.BytesIO(data)) as picture:
            small = picture.convert("RGB").resize((_SAMPLE_SIDE, _SAMPLE_SIDE))
    except Exception:
        return None
    rgb = small.tobytes()  # R, G, B, R, G, B, … (getdata is deprecated in Pillow 12)
    names = Counter(colour_name(*rgb[i : i + 3]) for i in range(0, len(rgb), 3))
    total = sum(names.values())
    shares = [f"{name} ({count / total:.0%})" for name, count in names.most_common(_SHOWN_COLOURS)]
    if len(shares) == 1:
        return f"all {shares[0]}"
    rest = shares[1:]
    return f"mostly {shares[0]}, then " + (" and ".join(rest) if len(rest) < 3 else ", ".join(rest))


def colour_name(red: int, green: int, blue: int) -> str:
    """A plain colour word for a pixel, by hue, saturation and brightness."""
    hue, saturation, value = colorsys.rgb_to_hsv(red / 255, green / 255, blue / 255)
    degrees = hue * 360
    if value < 0.2:
        return "black"
    if saturation < 0.15:
        return "white" if value > 0.85 else "grey"
    if degrees < 15 or degrees >= 345:
        return "brown" if value < 0.5 else "red"
    if degrees < 45:
        return "brown" if value < 0.6 else "orange"
    if degrees < 70:
        return "yellow"
    if degrees < 165:
        return "green"
    if degrees < 195:
        return "cyan"
    if degrees < 255:
        return "blue"
    if degrees < 290:
        return "purple"
    return "pink"
