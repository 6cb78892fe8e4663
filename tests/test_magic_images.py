"""``{{ fig }}`` in a real kernel: the request bodies the local server received, and what the cell shows."""

from __future__ import annotations

import base64
import io

import PIL.Image
import pytest

from kagura_magic.images import MAX_PIXELS, MAX_SIDE
from kagura_magic.prompt import SAME_IMAGE_AGAIN, image_urls
from tests.kernel_client import Kernel
from tests.openai_server import OpenAIServer

SETUP = """\
%agent reset
import os
os.environ['OPENAI_API_KEY'] = 'sk-kernel-test-1'
import matplotlib.pyplot as plt
fig, ax = plt.subplots(figsize=(8, 6), dpi=200)
_ = ax.plot([1, 3, 2], color='tab:blue')
plt.close(fig)
"""


@pytest.fixture
def base(kernel: Kernel, openai_server: OpenAIServer) -> str:
    setup = kernel.execute(SETUP)
    assert setup.status == "ok", setup.error
    return f"-m openai/ok --api-base {openai_server.api_base}"


def _picture(url: str) -> PIL.Image.Image:
    assert url.startswith("data:image/png;base64,")
    return PIL.Image.open(io.BytesIO(base64.b64decode(url.partition(",")[2])))


def _answer(kernel: Kernel, run: object) -> str:
    settled = kernel.settled_display(run)  # type: ignore[arg-type]
    assert settled is not None
    return str(settled["data"]["text/plain"])


def test_a_figure_is_an_image_part_where_it_stands_and_is_sent_once(
    kernel: Kernel, openai_server: OpenAIServer, base: str
) -> None:
    run = kernel.execute(f"%%agent {base}\nWhat trend is in {{{{ fig }}}} here? Briefly.", cell_id="img1")
    assert run.status == "ok", run.error
    user = openai_server.requests[-1]["messages"][-1]["content"]
    assert [part["type"] for part in user] == ["text", "image_url", "text"]
    assert user[0]["text"] == "What trend is in " and user[2]["text"] == " here? Briefly."
    url = user[1]["image_url"]["url"]
    picture = _picture(url)
    assert max(picture.size) <= MAX_SIDE and picture.size[0] * picture.size[1] <= MAX_PIXELS, (
        "a 1600×1200 figure is drawn within the bound"
    )
    assert _answer(kernel, run).startswith("What trend is in  here? Briefly."), "the server echoes the text"

    follow_up = kernel.execute(f"%%agent {base}\nAnd the axis?", cell_id="img2")
    assert follow_up.status == "ok", follow_up.error
    messages = openai_server.requests[-1]["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert image_urls(messages) == [url], "the history sends the picture again, once"

    again = kernel.execute(f"%%agent {base}\nCompare {{{{ fig }}}} with before.", cell_id="img3")
    assert again.status == "ok", again.error
    messages = openai_server.requests[-1]["messages"]
    assert image_urls(messages) == [url], "the same picture in a later cell is not sent twice"
    assert SAME_IMAGE_AGAIN in [part.get("text") for part in messages[-1]["content"]]

    history = kernel.execute("%agent history").stdout
    assert "[image 1: " in history and "PNG" in history, history
    kernel.execute("%agent reset\ndel os.environ['OPENAI_API_KEY']")


def test_a_model_litellm_says_takes_no_images_is_refused_before_sending(
    kernel: Kernel, openai_server: OpenAIServer, base: str
) -> None:
    sent = len(openai_server.requests)
    run = kernel.execute(
        f"%%agent -m openai/o3-mini --api-base {openai_server.api_base}\nDescribe {{{{ fig }}}}"
    )
    assert run.status == "error" and len(openai_server.requests) == sent, "refused, nothing sent"
    message = "\n".join(run.error["traceback"])  # type: ignore[index]
    assert "openai/o3-mini takes no images" in message and "demo/vision" in message
    assert "Traceback" not in message and len(message.splitlines()) <= 2
    text_only = kernel.execute(f"%%agent -m openai/o3-mini --api-base {openai_server.api_base}\nNo picture")
    assert text_only.status == "ok", "only a prompt with a picture is refused"
    kernel.execute("%agent reset\ndel os.environ['OPENAI_API_KEY']")


def test_out_n_is_the_plot_the_cell_displayed(kernel: Kernel, base: str) -> None:
    plot = kernel.execute(
        "_ = plt.figure(figsize=(4, 3))\n_ = plt.bar([1, 2, 3], [3, 2, 1], color='tab:green')"
    )
    assert plot.status == "ok" and plot.of_type("display_data"), "the inline backend displayed it"
    number = plot.reply["content"]["execution_count"]
    fast = "-m demo/vision --no-history --param tokens_per_second=0"
    run = kernel.execute(f"%%agent {fast}\nWhat is in {{{{ Out[{number}] }}}}?")
    assert run.status == "ok", run.error
    answer = _answer(kernel, run)
    assert "I see 1 image" in answer and "green" in answer, answer
    latest = kernel.execute("%%agent -m demo/vision --no-history --param tokens_per_second=0\n{{ Out[-1] }}")
    assert "I see 1 image" in _answer(kernel, latest), "Out[-1]: the latest cell that showed something"
    missing = kernel.execute("%%agent -m demo/vision --no-history\n{{ Out[99999] }}")
    assert missing.status == "error"
    assert "Out[99999]: cell 99999 showed no output" in "\n".join(missing.error["traceback"])  # type: ignore[index]


def test_a_dry_run_shows_pictures_by_size_and_the_refusal_it_would_meet(kernel: Kernel, base: str) -> None:
    run = kernel.execute("%%agent --dry-run -m demo/vision --no-history\nLook at {{ fig }}")
    assert run.status == "ok", run.error
    shown = run.of_type("display_data")[0]["content"]["data"]["text/plain"]
    assert "Look at \n[image 1: " in shown and " PNG, " in shown and "base64" not in shown, shown
    refused = kernel.execute("%%agent --dry-run -m demo/echo --no-history\nLook at {{ fig }}")
    assert refused.status == "ok" and "demo/echo takes no images" in refused.stdout
    kernel.execute("del os.environ['OPENAI_API_KEY']")


def test_an_image_file_that_is_missing_is_one_line(kernel: Kernel) -> None:
    run = kernel.execute("%%agent -m demo/vision --no-history\n{{ image('no-such-plot.png') }}")
    assert run.status == "error"
    lines = "\n".join(run.error["traceback"]).splitlines()  # type: ignore[index]
    assert "image('no-such-plot.png')" in lines[0] and "No such file" in lines[0] and len(lines) <= 2
