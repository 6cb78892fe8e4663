"""Pictures in prompts: what counts as one, the bound they are scaled into, and their place in a prompt."""

from __future__ import annotations

import base64
import io
import sys

import matplotlib.pyplot as plt
import PIL.Image
import pytest
from IPython.display import Image as IPythonImage

from kagura_magic import images
from kagura_magic.errors import ImageError, TemplateError
from kagura_magic.history import Conversation, Exchange
from kagura_magic.images import MAX_PIXELS, MAX_SIDE, PromptImage, as_image, image
from kagura_magic.prompt import SAME_IMAGE_AGAIN, Prompt, image_urls, images_as_text, sent_once
from kagura_magic.providers.demo_vision import colour_name, vision_reply
from kagura_magic.templating import render_prompt, render_template


def png(width: int, height: int, colour: tuple[int, int, int] = (30, 90, 200)) -> bytes:
    buffer = io.BytesIO()
    PIL.Image.new("RGB", (width, height), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def jpeg(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    PIL.Image.new("RGB", (width, height), (200, 40, 40)).save(buffer, format="JPEG")
    return buffer.getvalue()


def decoded(picture: PromptImage) -> PIL.Image.Image:
    return PIL.Image.open(io.BytesIO(picture.data))


@pytest.fixture
def figure() -> object:
    fig, ax = plt.subplots(figsize=(6.4, 4.8), dpi=100)
    ax.bar([1, 2, 3], [3, 1, 2], color="tab:orange")
    yield fig
    plt.close(fig)


def test_bytes_within_the_bound_are_sent_as_they_came() -> None:
    data = png(300, 200)
    picture = as_image(data)
    assert picture is not None and picture.data == data and picture.mime == "image/png"
    assert (picture.width, picture.height, picture.scaled_from) == (300, 200, None)
    assert picture.data_url() == "data:image/png;base64," + base64.b64encode(data).decode()
    assert picture.part() == {"type": "image_url", "image_url": {"url": picture.data_url()}}
    assert as_image(b"not a picture at all") is None, "other bytes stay bytes (summarised as text)"


def test_a_large_picture_is_scaled_into_the_bound_keeping_its_shape() -> None:
    picture = as_image(png(4000, 1000))
    assert picture is not None and picture.scaled_from == (4000, 1000)
    assert max(picture.width, picture.height) <= MAX_SIDE and picture.width * picture.height <= MAX_PIXELS
    assert abs(picture.width / picture.height - 4.0) < 0.02
    assert decoded(picture).size == (picture.width, picture.height)
    square = as_image(png(2000, 2000))
    assert square is not None and square.width * square.height <= MAX_PIXELS < 1568 * 1568, (
        "the pixel bound binds before the side bound for a square"
    )
    assert "scaled from 4000×1000" in picture.describe()


def test_a_jpeg_stays_a_jpeg_and_other_formats_become_png() -> None:
    photo = as_image(jpeg(3000, 2000))
    assert photo is not None and photo.mime == "image/jpeg" and decoded(photo).format == "JPEG"
    buffer = io.BytesIO()
    PIL.Image.new("RGB", (40, 30), (0, 200, 0)).save(buffer, format="GIF")
    gif = as_image(buffer.getvalue())
    assert gif is not None and gif.mime == "image/png" and (gif.width, gif.height) == (40, 30)


def test_matplotlib_figures_axes_and_artists_are_the_figure(figure: object) -> None:
    drawn = as_image(figure)
    assert drawn is not None and drawn.mime == "image/png" and drawn.source == "matplotlib figure"
    assert 400 < drawn.width <= 640 and 300 < drawn.height <= 480, "the figure's own size, tight box"
    axes = figure.axes[0]  # type: ignore[attr-defined]
    assert as_image(axes) == drawn, "{{ ax }} sends the figure it is in"
    assert as_image(list(axes.patches)) == drawn, "a list of artists (what plt.bar returns) too"
    other, other_axes = plt.subplots()
    try:
        assert as_image([axes, other_axes]) is None, "artists of two figures are not one picture"
    finally:
        plt.close(other)


def test_a_big_figure_is_drawn_within_the_bound() -> None:
    fig = plt.figure(figsize=(20, 10), dpi=200)
    try:
        fig.add_subplot().plot([1, 3, 2])
        picture = as_image(fig)
        assert picture is not None and max(picture.width, picture.height) <= MAX_SIDE
        assert picture.width * picture.height <= MAX_PIXELS
    finally:
        plt.close(fig)


def test_pil_and_ipython_images() -> None:
    picture = as_image(PIL.Image.new("RGBA", (64, 48), (255, 0, 0, 128)))
    assert picture is not None and picture.mime == "image/png" and decoded(picture).mode == "RGBA"
    shown = as_image(IPythonImage(data=png(20, 10)))
    assert shown is not None and (shown.width, shown.height) == (20, 10)
    with pytest.raises(ImageError, match="holds no pixels"):
        as_image(IPythonImage(url="https://example.com/plot.png"))


def test_image_reads_files_and_says_what_is_wrong(tmp_path: object) -> None:
    path = tmp_path / "plot.png"  # type: ignore[operator]
    path.write_bytes(png(800, 600))
    picture = image(str(path))
    assert (picture.width, picture.height, picture.source) == (800, 600, "plot.png")
    assert max(image(path, max_side=200).width, image(path, max_side=200).height) == 200
    (tmp_path / "notes.txt").write_text("hello")  # type: ignore[operator]
    with pytest.raises(ImageError, match="not a PNG, JPEG, GIF or WebP file"):
        image(str(tmp_path / "notes.txt"))  # type: ignore[operator]
    with pytest.raises(ImageError, match="No such file"):
        image("missing.png")
    with pytest.raises(ImageError, match="reads local files"):
        image("https://example.com/x.png")
    with pytest.raises(ImageError, match="not int"):
        image(3)


def test_without_pillow_png_and_jpeg_within_the_bound_go_as_they_are(monkeypatch: pytest.MonkeyPatch) -> None:
    small_png, small_jpeg, big = png(640, 480), jpeg(321, 123), png(2000, 100)
    monkeypatch.setitem(sys.modules, "PIL", None)  # import PIL fails, as where it is not installed
    monkeypatch.setitem(sys.modules, "PIL.Image", None)
    first = images.from_bytes(small_png, "a")
    assert (first.width, first.height, first.data) == (640, 480, small_png)
    second = images.from_bytes(small_jpeg, "b")
    assert (second.width, second.height) == (321, 123), "the size read from the JPEG's frame header"
    with pytest.raises(ImageError, match=r"over the 1568-pixel bound.*pip install pillow"):
        images.from_bytes(big, "big.png")


def test_a_data_url_is_described_by_its_header() -> None:
    picture = images.from_bytes(png(120, 80), "x")
    assert images.size_of_data_url(picture.data_url()) == f"120×80 PNG, {len(picture.data)} bytes"
    assert images.size_of_data_url("https://example.com/a.png") is None


def test_pictures_take_the_place_of_their_expressions(figure: object) -> None:
    data = png(10, 10)
    prompt = render_prompt(
        "Before {{ fig }} middle {{ raw }} after {{ 6 * 7 }}", {"fig": figure, "raw": data}
    )
    kinds = [type(part).__name__ for part in prompt.parts]
    assert kinds == ["str", "PromptImage", "str", "PromptImage", "str"]
    assert prompt.parts[0] == "Before " and prompt.parts[-1] == " after 42"
    content = prompt.content()
    assert isinstance(content, list)
    assert [part["type"] for part in content] == ["text", "image_url", "text", "image_url", "text"]
    assert content[3]["image_url"]["url"] == "data:image/png;base64," + base64.b64encode(data).decode()
    assert prompt.text.startswith("Before [image 1: ") and "[image 2: 10×10 PNG" in prompt.text
    plain = render_prompt("no pictures {{ 1 + 1 }}", {})
    assert plain.content() == "no pictures 2" and not plain.images


def test_text_only_rendering_and_a_literal_mark_stay_text(figure: object) -> None:
    assert "Figure" in render_template("{{ fig }}", {"fig": figure}), "no image part where text is wanted"
    literal = "\ue000kagura-image-7\ue001"
    prompt = render_prompt(literal + " {{ 1 }}", {})
    assert prompt.text == literal + " 1" and not prompt.images


def test_the_same_text_with_another_picture_is_another_prompt() -> None:
    first = render_prompt("{{ a }}", {"a": png(5, 5)})
    second = render_prompt("{{ a }}", {"a": png(5, 5, (0, 0, 0))})
    assert first.text.startswith("[image 1: 5×5 PNG") and second.text.startswith("[image 1: 5×5 PNG")
    assert (
        first.identity != second.identity
        and first.identity == render_prompt("{{ a }}", {"a": png(5, 5)}).identity
    )


def test_a_picture_error_is_one_line_of_template_error() -> None:
    with pytest.raises(TemplateError) as raised:
        render_prompt("{{ image('nowhere.png') }}", {"image": image})
    assert str(raised.value).splitlines()[0].startswith("Prompt template: image('nowhere.png'):")


def test_a_picture_is_sent_once_and_held_once() -> None:
    picture = images.from_bytes(png(30, 30), "p")
    prompt = Prompt(("look ", picture))
    chat = Conversation()
    chat.record(Exchange("c1", prompt, "a square", "demo/vision"))
    copy = images.from_bytes(png(30, 30), "p")  # equal bytes, another object
    chat.record(Exchange("c2", Prompt(("again ", copy)), "still a square", "demo/vision"))
    assert len(chat.pictures) == 1, "one copy of the picture for both exchanges"
    held = [e.prompt.images[0] for e in chat.exchanges if isinstance(e.prompt, Prompt)]
    assert held[0] is held[1]
    messages = sent_once([m for e in chat.exchanges for m in e.messages()])
    assert len(image_urls(messages)) == 1 and SAME_IMAGE_AGAIN in str(messages[2]["content"])
    chat.record(Exchange("c1", Prompt.of("text now"), "ok", "demo/vision"))
    chat.record(Exchange("c2", Prompt.of("text too"), "ok", "demo/vision"))
    assert chat.pictures == [], "a picture no exchange holds is let go"


def test_a_model_that_takes_no_pictures_gets_what_they_were() -> None:
    picture = images.from_bytes(png(30, 20), "p")
    messages = [{"role": "user", "content": Prompt(("see ", picture)).content()}]
    described = images_as_text(messages)
    assert image_urls(described) == [] and "[an image (30×20 PNG" in str(described[0]["content"])


def test_demo_vision_answers_from_the_bytes_in_order() -> None:
    blue, red = images.from_bytes(png(64, 32, (20, 60, 230)), "a"), images.from_bytes(jpeg(50, 40), "b")
    reply = vision_reply([{"role": "user", "content": Prompt(("one ", blue, " two ", red)).content()}])
    first, second = (line for line in reply.splitlines() if line[:2] in ("1.", "2."))
    assert "64×32 PNG" in first and "all blue (100%)" in first
    assert "50×40 JPEG" in second and "red" in second
    assert "no image" in vision_reply([{"role": "user", "content": "hello"}])
    assert [colour_name(*c) for c in [(0, 0, 0), (255, 255, 255), (128, 128, 128), (31, 119, 180)]] == [
        "black", "white", "grey", "blue",
    ]  # fmt: skip
