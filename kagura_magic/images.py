"""Pictures for a vision model: plots, PIL images, image files and bytes, made small enough to send.

``{{ fig }}`` in a prompt sends the figure itself, as an OpenAI-style
``image_url`` part with a data URL (the form litellm translates for every
provider that takes images). What counts as a picture, without importing a
library that is not already loaded: a matplotlib ``Figure`` (or an ``Axes``,
an artist, a list of artists of one figure such as ``plt.plot``'s value, a
seaborn grid), a PIL image, an ``IPython.display.Image``, PNG/JPEG/GIF/WebP
bytes, and ``image("plot.png")``.

Every picture is bounded before it is sent: at most ``MAX_SIDE`` pixels on
its longer side and ``MAX_PIXELS`` in all. That is about as much as Anthropic
and OpenAI look at (both scale larger images down on their side), so a bigger
one costs upload time and tokens and adds no detail. Scaling needs Pillow
(matplotlib brings it); without it, PNG and JPEG within the bound are sent
as they are and a larger one is refused with the way out.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import struct
import sys
from dataclasses import dataclass, field
from typing import Any

from kagura_magic.errors import ImageError

MAX_SIDE = 1568  # pixels on the longer side
MAX_PIXELS = 1_150_000  # width x height
_RECODE_AS_JPEG_ABOVE = 3_000_000  # bytes: a photo saved as PNG is resent as JPEG

_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


@dataclass(frozen=True)
class PromptImage:
    """One picture as it is sent: encoded bytes within the bound, and what it was."""

    data: bytes
    mime: str
    width: int
    height: int
    source: str  # what the user referred to: "matplotlib Figure", "plot.png", …
    scaled_from: tuple[int, int] | None = None  # the size before it was scaled down
    digest: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "digest", hashlib.sha256(self.data).hexdigest()[:16])

    @property
    def format(self) -> str:
        return self.mime.split("/", 1)[1].upper()

    def data_url(self) -> str:
        return f"data:{self.mime};base64,{base64.b64encode(self.data).decode('ascii')}"

    def part(self) -> dict[str, Any]:
        """The message content part (OpenAI's shape, which litellm maps for each provider)."""
        return {"type": "image_url", "image_url": {"url": self.data_url()}}

    def describe(self) -> str:
        """``640×480 PNG, 23 KB (matplotlib Figure)``: what a placeholder or a dry run shows."""
        size = f"{self.width}×{self.height} {self.format}, {_kilobytes(len(self.data))}"
        scaled = f", scaled from {self.scaled_from[0]}×{self.scaled_from[1]}" if self.scaled_from else ""
        return f"{size}{scaled} ({self.source})"


def _kilobytes(count: int) -> str:
    return f"{max(count, 1) / 1000:,.0f} KB" if count >= 1000 else f"{count} bytes"


def image(source: Any, max_side: int = MAX_SIDE) -> PromptImage:
    """A picture for a prompt: ``{{ image("plot.png") }}``, or any value below with a smaller bound.

    ``source``: a path to a PNG, JPEG, GIF or WebP file, image bytes, or any
    value ``{{ }}`` sends as a picture (a figure, a PIL image…). ``max_side``
    bounds the longer side in pixels (at most ``MAX_SIDE``): smaller pictures
    cost fewer tokens.
    """
    limit = max(16, min(int(max_side), MAX_SIDE))
    if isinstance(source, str | os.PathLike):
        path = os.fspath(source)
        if path.startswith(("http://", "https://")):
            raise ImageError(
                f"image() reads local files, not {path!r}: download it first, then image('file.png')."
            )
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError as error:
            raise ImageError(f"image({path!r}): {error.strerror or error}.") from None
        if _mime_of(data) is None:
            raise ImageError(f"image({path!r}): not a PNG, JPEG, GIF or WebP file.")
        return from_bytes(data, os.path.basename(path), limit)
    found = as_image(source, limit)
    if found is None:
        raise ImageError(
            f"image() takes a file path, image bytes, a matplotlib figure or a PIL image, "
            f"not {type(source).__name__}."
        )
    return found


def as_image(value: Any, max_side: int = MAX_SIDE) -> PromptImage | None:
    """``value`` as a picture when it is one (see the module docstring); None for anything else."""
    if isinstance(value, PromptImage):
        if max(value.width, value.height) <= max_side:
            return value
        return from_bytes(value.data, value.source, max_side)
    if isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value)
        return from_bytes(data, "image bytes", max_side) if _mime_of(data) else None
    figure = _matplotlib_figure(value)
    if figure is not None:
        return _from_figure(figure, max_side)
    pil = sys.modules.get("PIL.Image")
    if pil is not None and isinstance(value, pil.Image):
        return _from_pil(value, "PIL image", max_side)
    display = sys.modules.get("IPython.core.display")
    if display is not None and isinstance(value, display.Image):
        return _from_ipython_image(value, max_side)
    return None


def _mime_of(data: bytes) -> str | None:
    for signature, mime in _SIGNATURES:
        if data.startswith(signature):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def from_bytes(data: bytes, source: str, max_side: int = MAX_SIDE) -> PromptImage:
    """Encoded image bytes, scaled into the bound (Pillow) or checked against it (without)."""
    mime = _mime_of(data)
    if mime is None:
        raise ImageError(f"{source}: not a PNG, JPEG, GIF or WebP image.")
    pil = _pillow()
    if pil is not None:
        try:
            picture = pil.open(io.BytesIO(data))
            picture.load()
        except Exception as error:
            raise ImageError(f"{source}: Pillow could not read it ({error}).") from None
        if mime in ("image/png", "image/jpeg") and _fits(picture.width, picture.height, max_side):
            return PromptImage(data, mime, picture.width, picture.height, source)  # as it came
        return _from_pil(picture, source, max_side, keep_jpeg=mime == "image/jpeg")
    size = _header_size(data, mime)
    if mime not in ("image/png", "image/jpeg") or size is None:
        kind = mime.split("/")[1].upper()
        raise ImageError(f"{source}: sending a {kind} image needs Pillow: pip install pillow.")
    width, height = size
    if not _fits(width, height, max_side):
        raise ImageError(
            f"{source} is {width}×{height}, over the {max_side}-pixel bound, and scaling it down "
            "needs Pillow: pip install pillow (or send a smaller picture)."
        )
    return PromptImage(data, mime, width, height, source)


def _fits(width: int, height: int, max_side: int) -> bool:
    return max(width, height) <= max_side and width * height <= MAX_PIXELS


def _bounded_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    scale = min(1.0, max_side / max(width, height), (MAX_PIXELS / (width * height)) ** 0.5)
    return max(1, int(width * scale)), max(1, int(height * scale))


def _from_pil(picture: Any, source: str, max_side: int, keep_jpeg: bool = False) -> PromptImage:
    """A PIL image scaled into the bound and encoded: PNG, or JPEG for a JPEG or a large photo."""
    pil = sys.modules["PIL.Image"]
    original = (picture.width, picture.height)
    if picture.mode not in ("RGB", "RGBA", "L", "LA"):
        picture = picture.convert("RGBA" if "A" in picture.mode or "transparency" in picture.info else "RGB")
    scaled = None
    if not _fits(picture.width, picture.height, max_side):
        picture = picture.resize(_bounded_size(*original, max_side), pil.Resampling.LANCZOS)
        scaled = original
    data, mime = _encode(picture, "JPEG" if keep_jpeg and picture.mode in ("RGB", "L") else "PNG")
    if mime == "image/png" and len(data) > _RECODE_AS_JPEG_ABOVE and picture.mode in ("RGB", "L"):
        data, mime = _encode(picture, "JPEG")
    return PromptImage(data, mime, picture.width, picture.height, source, scaled)


def _encode(picture: Any, kind: str) -> tuple[bytes, str]:
    buffer = io.BytesIO()
    if kind == "JPEG":
        picture.save(buffer, format="JPEG", quality=90)
        return buffer.getvalue(), "image/jpeg"
    picture.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue(), "image/png"


def _pillow() -> Any | None:
    try:
        import PIL.Image
    except ImportError:
        return None
    return PIL.Image


# -- matplotlib, found without importing it --------------------------------------------------
def _matplotlib_figure(value: Any) -> Any | None:
    """The figure ``value`` draws in, when it is matplotlib's (a figure, axes, artists, a seaborn grid)."""
    artist = sys.modules.get("matplotlib.artist")
    if artist is None:
        return None
    if isinstance(value, artist.Artist):
        return _root_figure(value)
    figure = getattr(value, "figure", None) if type(value).__module__.startswith("seaborn") else None
    if figure is not None and isinstance(figure, artist.Artist):
        return _root_figure(figure)
    items = _sequence_items(value)
    if items and all(isinstance(item, artist.Artist) for item in items):
        figures = {id(f): f for f in (_root_figure(item) for item in items) if f is not None}
        return next(iter(figures.values())) if len(figures) == 1 else None
    return None


def _sequence_items(value: Any) -> list[Any]:
    """Items of a list, tuple or object array (``plt.subplots``' axes), else nothing."""
    if isinstance(value, list | tuple):
        return list(value)
    numpy = sys.modules.get("numpy")
    if numpy is not None and isinstance(value, numpy.ndarray) and value.dtype == object and value.size < 1000:
        return list(value.ravel())
    return []


def _root_figure(artist: Any) -> Any | None:
    figure = artist if hasattr(artist, "savefig") else getattr(artist, "figure", None)
    while figure is not None and not hasattr(figure, "savefig"):  # a SubFigure: its parent figure
        figure = getattr(figure, "figure", None)
    return figure


def _from_figure(figure: Any, max_side: int) -> PromptImage:
    """The figure as the notebook shows it (its own dpi, tight box), drawn within the bound."""
    width_in, height_in = figure.get_size_inches()
    dpi = float(figure.dpi)
    width, height = width_in * dpi, height_in * dpi
    dpi *= min(1.0, max_side / max(width, height), (MAX_PIXELS / (width * height)) ** 0.5)
    buffer = io.BytesIO()
    try:
        figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    except Exception as error:
        raise ImageError(f"matplotlib could not draw the figure: {error}") from None
    return from_bytes(buffer.getvalue(), "matplotlib figure", max_side)


def _from_ipython_image(value: Any, max_side: int) -> PromptImage:
    data = value.data
    if not isinstance(data, bytes):
        where = value.url or value.filename or "it"
        raise ImageError(
            f"this IPython Image holds no pixels, only a link to {where}: "
            "use Image(url=..., embed=True) or image('file.png')."
        )
    return from_bytes(data, "IPython Image", max_side)


# -- sizes from the file header, for when Pillow is not installed ----------------------------
def _header_size(data: bytes, mime: str) -> tuple[int, int] | None:
    if mime == "image/png":
        if len(data) < 24 or data[12:16] != b"IHDR":
            return None
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if mime == "image/jpeg":
        return _jpeg_size(data)
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    """Walk the JPEG segments to the first start-of-frame marker, which holds the size."""
    position = 2
    while position + 9 <= len(data):
        if data[position] != 0xFF:
            return None
        marker = data[position + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # no length: skip the marker alone
            position += 2
            continue
        (length,) = struct.unpack(">H", data[position + 2 : position + 4])
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[position + 5 : position + 9])
            return int(width), int(height)
        position += 2 + length
    return None


def size_of_data_url(url: str) -> str | None:
    """``640×480 PNG, 23 KB`` for a data URL, to show an image part without its bytes."""
    if not url.startswith("data:image/") or ";base64," not in url:
        return None
    header, _, encoded = url.partition(";base64,")
    try:
        data = base64.b64decode(encoded, validate=False)
    except (ValueError, TypeError):
        return None
    mime = header[len("data:") :]
    size = _header_size(data, mime)
    dimensions = f"{size[0]}×{size[1]} " if size else ""
    return f"{dimensions}{mime.split('/', 1)[1].upper()}, {_kilobytes(len(data))}"
