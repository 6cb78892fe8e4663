"""``%%agent`` in a real kernel, judged by the messages a frontend receives."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable

import pytest

from kagura_magic.markdown import render
from tests.kernel_client import Execution, Kernel
from tests.openai_server import OpenAIServer

pytestmark = pytest.mark.slow  # a real kernel (or an IPython process) per module: seconds each

ANSWER = textwrap.dedent(
    """\
    ## Results

    The model fits **well**: $R^2 = 0.93$ on held-out data, see the [docs](https://example.org/docs).

    | metric | value |
    | ------ | ----: |
    | RMSE   |  0.41 |
    | MAE    |  0.30 |

    ```python
    import numpy as np
    print(np.mean([1, 2, 3]))
    ```

    1. Check the residuals.
    2. Try a *regularised* model.

    > Keep the test set untouched until the end.
    """
)


def agent_cell(options: str, body: str) -> str:
    return f"%%agent {options}\n{body}"


def widget_states(execution: Execution) -> dict[str, dict]:
    """comm id -> the widget state as it was opened."""
    return {m["content"]["comm_id"]: m["content"]["data"]["state"] for m in execution.widget_opens()}


def value_updates(execution: Execution) -> list[tuple[str, str, float]]:
    """(comm id, new value, time) for every widget value change, in order."""
    return [
        (m["content"]["comm_id"], m["content"]["data"]["state"]["value"], m["received"])
        for m in execution.widget_updates()
        if "value" in m["content"]["data"]["state"]
    ]


# -- loading and help ------------------------------------------------------------------
def test_load_registers_both_magics_and_real_help(kernel: Kernel) -> None:
    found = kernel.execute(
        "ip = get_ipython(); print(bool(ip.find_cell_magic('agent')), bool(ip.find_line_magic('agent')))"
    )
    assert found.stdout.strip() == "True True"
    help_reply = kernel.execute("%%agent?\n")
    pages = [p for p in help_reply.reply["content"].get("payload", []) if p.get("source") == "page"]
    text = json.dumps(pages)
    for option in ("--model", "--param", "--no-history", "--no-template", "--out"):
        assert option in text


# -- the live view ----------------------------------------------------------------------
def test_spinner_then_streamed_updates_then_static_answer(kernel: Kernel) -> None:
    run = kernel.execute(agent_cell("-m demo/echo --param tokens_per_second=150 --no-history", ANSWER))
    assert run.status == "ok", run.error
    displays = run.of_type("display_data")
    assert displays, "the live view is displayed"
    first_display = run.messages.index(displays[0])
    spinner_opens = [
        i
        for i, m in enumerate(run.messages)
        if m["msg_type"] == "comm_open"
        and 'class="kagura-spinner"' in m["content"]["data"]["state"].get("value", "")
    ]
    assert spinner_opens and spinner_opens[0] < first_display, "the spinner is part of the first output"
    outputs = run.of_type("display_data", "update_display_data", "stream", "execute_result", "error")
    assert outputs[0] is displays[0], "nothing is shown before the spinner"

    frames = [m for m in run.widget_updates() if {"value", "children"} & set(m["content"]["data"]["state"])]
    assert len(frames) >= 10, "the answer arrives in many updates"

    final = run.final_display()
    assert final is not None
    sent = ANSWER.rstrip("\n")  # a cell's trailing newline is not part of the prompt
    assert final["data"]["text/markdown"] == sent
    assert render(sent) in final["data"]["text/html"]
    assert final["data"]["text/plain"] == sent
    meta = final["metadata"]["kagura_magic"]
    assert meta["model"] == "demo/echo" and meta["status"] == "complete" and meta["completion_tokens"] > 0


def frozen_ids(execution: Execution) -> list[str]:
    """Widgets a group lists before its last child: the frozen blocks.

    (A group's last child is the tail, or the nested group that holds it.)
    """
    ids: list[str] = []
    for message in execution.widget_updates():
        children = message["content"]["data"]["state"].get("children")
        for child in (children or [])[:-1]:
            cid = child.removeprefix("IPY_MODEL_")
            if cid not in ids:
                ids.append(cid)
    return ids


def test_finished_blocks_are_sent_once(kernel: Kernel) -> None:
    run = kernel.execute(agent_cell("-m demo/echo --param tokens_per_second=200 --no-history", ANSWER))
    states = widget_states(run)
    frozen = [cid for cid in frozen_ids(run) if states[cid].get("_model_name") == "HTMLMathModel"]
    assert len(frozen) >= 3, "finished blocks are frozen into their own widgets"
    updated_ids = {cid for cid, _, _ in value_updates(run)}
    assert not updated_ids & set(frozen), "a frozen block is never sent again"
    opening = '<div class="mathjax_ignore tex2jax_ignore">'
    values = [states[cid]["value"] for cid in frozen]
    assert all(v.startswith(opening) and v.endswith("</div>") for v in values), "MathJax skips all but math"
    frozen_html = "".join(v[len(opening) : -len("</div>")] for v in values)
    assert render(ANSWER.rstrip("\n")).startswith(frozen_html), (
        "frozen blocks are the answer's blocks, in order"
    )
    assert len(run.widget_opens()) == len(states), "every widget is opened once"


def test_a_freeze_is_one_message(kernel: Kernel) -> None:
    """New block and new tail arrive in the same children update: no frame shows a block twice."""
    run = kernel.execute(agent_cell("-m demo/echo --param tokens_per_second=200 --no-history", ANSWER))
    states = widget_states(run)
    for message in run.widget_updates():
        children = message["content"]["data"]["state"].get("children") or []
        ids = [c.removeprefix("IPY_MODEL_") for c in children]
        values = [
            states[i].get("value", "") for i in ids if states.get(i, {}).get("_model_name") == "HTMLMathModel"
        ]
        nonempty = [v for v in values if v]
        assert len(nonempty) == len(set(nonempty)), "the same block is never listed twice"


def test_first_token_replaces_spinner_immediately(kernel: Kernel) -> None:
    run = kernel.execute(
        agent_cell("-m demo/echo --param tokens_per_second=20 --no-history", "one two three four five six")
    )
    states = widget_states(run)
    status_id = next(cid for cid, s in states.items() if 'class="kagura-spinner"' in s.get("value", ""))
    updates = value_updates(run)
    cleared = next(
        i for i, (cid, value, _) in enumerate(updates) if cid == status_id and "kagura-spinner" not in value
    )
    first_text = next(i for i, (cid, value, _) in enumerate(updates) if cid != status_id and value)
    assert cleared < first_text, "the spinner goes in the same step the first text arrives"
    import re

    visible = re.sub(r"<[^>]+>", "", updates[first_text][1]).strip()
    assert visible == "one", "the first token is shown on its own, not held for a coalesced frame"


# -- options ------------------------------------------------------------------------------
def test_out_variable_and_template(kernel: Kernel) -> None:
    kernel.execute("rows = 1234\nconfig = {'a': 1}")
    run = kernel.execute(
        agent_cell(
            "-m demo/echo --param tokens_per_second=0 --no-history -o answer",
            "We have {{ rows * 2 }} rows; keep {'a': 1} and {x} as is.",
        )
    )
    assert run.status == "ok", run.error
    check = kernel.execute("print(answer)")
    assert check.stdout == "We have 2468 rows; keep {'a': 1} and {x} as is.\n"


def test_no_template_sends_text_as_is(kernel: Kernel) -> None:
    run = kernel.execute(
        agent_cell(
            "-m demo/echo --param tokens_per_second=0 --no-history --no-template -o raw",
            "Jinja: {{ undefined_thing }}",
        )
    )
    assert run.status == "ok", run.error
    assert kernel.execute("print(raw)").stdout == "Jinja: {{ undefined_thing }}\n"


def test_undefined_template_name_is_one_clear_line(kernel: Kernel) -> None:
    run = kernel.execute(agent_cell("-m demo/echo --no-history", "Use {{ no_such_variable }} here."))
    assert run.status == "error"
    error = run.error
    assert error is not None
    text = "\n".join(error["traceback"])
    assert "no_such_variable" in text and "undefined" in text
    assert "Traceback" not in text and len(error["traceback"]) <= 2
    assert not run.of_type("display_data"), "no spinner for a prompt that never went out"


def test_bad_arguments_print_short_usage(kernel: Kernel) -> None:
    run = kernel.execute(agent_cell("-m demo/echo --bogus", "hi"))
    assert run.status == "error"
    # IPython shows a UsageError as one short message on stderr, no traceback.
    assert "UsageError: unrecognized arguments: --bogus" in run.stderr
    assert "usage: %%agent" in run.stderr and "Traceback" not in run.stderr
    assert len(run.stderr.strip().splitlines()) <= 3


def test_missing_api_key_is_a_short_message(kernel: Kernel) -> None:
    run = kernel.execute(agent_cell("-m gpt-4o-mini --no-history", "hello"))
    assert run.status == "error"
    text = "\n".join(run.error["traceback"])
    assert "OPENAI_API_KEY" in text and "Traceback" not in text and len(run.error["traceback"]) <= 2


def test_no_model_explains_how_to_choose(kernel: Kernel) -> None:
    run = kernel.execute(agent_cell("--no-history", "hello"))
    assert run.status == "error" and "demo/showcase" in "\n".join(run.error["traceback"])


def test_params_reach_litellm_and_config_defaults_apply(kernel: Kernel, openai_server: OpenAIServer) -> None:
    kernel.execute(
        f"%config AgentMagics.api_base = {openai_server.api_base!r}\n%config AgentMagics.model = 'openai/ok'"
    )
    try:
        run = kernel.execute(
            "import os; os.environ['OPENAI_API_KEY'] = 'sk-kernel-test-1'\n"
            "get_ipython().run_cell_magic('agent', "
            "'--temperature 0.2 --max-tokens 99 --param seed=5 --system Brief --no-history', 'configured')"
        )
        assert run.status == "ok", run.error
        body = openai_server.requests[-1]
        assert (body["temperature"], body["max_tokens"], body["seed"]) == (0.2, 99, 5)
        assert body["messages"][0] == {"role": "system", "content": "Brief"}
    finally:
        kernel.execute(
            "%config AgentMagics.api_base = None\n%config AgentMagics.model = None\n"
            "del os.environ['OPENAI_API_KEY']"
        )


# -- failures -------------------------------------------------------------------------------
def test_midstream_error_keeps_partial_answer(kernel: Kernel) -> None:
    run = kernel.execute(
        agent_cell("-m demo/showcase --param tokens_per_second=0 --param fail_after=300 --no-history", "go")
    )
    assert run.status == "error"
    final = run.final_display()
    partial = final["data"]["text/markdown"]
    from kagura_magic.providers.demo_answers import SHOWCASE

    kept = partial.split("\n\n> ")[0]
    assert len(kept) >= 300 and SHOWCASE.startswith(kept)
    assert final["metadata"]["kagura_magic"]["status"] == "partial"
    lines = run.error["traceback"]
    assert 1 <= len(lines) <= 2 and "Connection" in lines[0] and "Traceback" not in "\n".join(lines)
    assert kernel.execute("1 + 1").status == "ok", "the kernel stays usable"


# -- conversation ----------------------------------------------------------------------------
def test_history_is_sent_and_rerun_replaces(kernel: Kernel, openai_server: OpenAIServer) -> None:
    kernel.execute("import os; os.environ['OPENAI_API_KEY'] = 'sk-kernel-test-1'\n%agent reset")
    base = f"-m openai/ok --api-base {openai_server.api_base}"
    kernel.execute(agent_cell(base, "My name is Ada."), cell_id="cell-a")
    kernel.execute(agent_cell(base, "What is my name?"), cell_id="cell-b")
    sent = openai_server.requests[-1]["messages"]
    assert [m["content"] for m in sent] == ["My name is Ada.", "My name is Ada.", "What is my name?"]
    kernel.execute(agent_cell(base, "My name is Grace."), cell_id="cell-a")  # re-run of cell a, edited
    kernel.execute(agent_cell(base, "And now?"), cell_id="cell-c")
    contents = [m["content"] for m in openai_server.requests[-1]["messages"]]
    assert contents == [
        "What is my name?",
        "What is my name?",
        "My name is Grace.",
        "My name is Grace.",
        "And now?",
    ]
    assert "My name is Ada." not in contents
    shown = kernel.execute("%agent history").stdout
    assert "3 exchange" in shown
    kernel.execute(agent_cell(base + " --no-history", "alone"), cell_id="cell-d")
    assert [m["content"] for m in openai_server.requests[-1]["messages"]] == ["alone"]
    kernel.execute("%agent reset\ndel os.environ['OPENAI_API_KEY']")


# -- interrupt -------------------------------------------------------------------------------
def test_interrupt_keeps_partial_closes_connection_and_stops_queue(
    kernel: Kernel, openai_server: OpenAIServer
) -> None:
    openai_server.slow_delay = 0.05
    kernel.execute("import os; os.environ['OPENAI_API_KEY'] = 'sk-kernel-test-1'")
    long_prompt = " ".join(f"word{i}" for i in range(400))
    frames = 0
    interrupted = threading.Event()

    queued = kernel.client.session.msg("execute_request", {"code": "queued_cell_ran = True", "silent": False})

    def on_message(message: dict) -> None:
        nonlocal frames
        if message["msg_type"] == "comm_msg":
            frames += 1
            if frames == 1:  # the agent cell is running: queue the next cell behind it
                kernel.client.shell_channel.send(queued)
            if frames == 8 and not interrupted.is_set():
                interrupted.set()
                kernel.interrupt()

    cell = agent_cell(f"-m openai/slow --api-base {openai_server.api_base} --no-history", long_prompt)
    run = kernel.execute(cell, on_message=on_message, timeout=60)
    assert interrupted.is_set()
    assert run.status == "error"
    lines = run.error["traceback"]
    assert "Interrupted" in lines[0] and "Traceback" not in "\n".join(lines)
    final = run.final_display()
    partial = final["data"]["text/plain"].split("\n\n[")[0]
    assert partial and long_prompt.startswith(partial)
    assert final["metadata"]["kagura_magic"]["status"] == "partial"
    assert openai_server.disconnected.wait(3), "the connection was closed"
    check = kernel.execute("print(globals().get('queued_cell_ran', 'not run'))")
    assert check.stdout.strip() == "not run", "cells queued after an interrupt do not run"
    assert kernel.execute("2 + 2").status == "ok"
    kernel.execute("del os.environ['OPENAI_API_KEY']")


# -- terminal IPython -----------------------------------------------------------------------
def _terminal_ipython(code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in terminal IPython (``ipython -c``), stdout a pipe: no widgets, no terminal."""
    return subprocess.run(
        [sys.executable, "-m", "IPython", "--no-banner", "--colors=NoColor", "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_terminal_ipython_streams_plain_text() -> None:
    code = (
        "get_ipython().run_line_magic('load_ext', 'kagura_magic'); "
        "get_ipython().run_cell_magic('agent', '-m demo/echo --param tokens_per_second=0', "
        "'# Title\\n\\n**bold** text')"
    )
    result = _terminal_ipython(code)
    assert result.returncode == 0, result.stderr
    assert "# Title\n\n**bold** text\n" in result.stdout
    assert "Traceback" not in result.stderr


def test_background_warm_up_never_blocks_interpreter_exit() -> None:
    """The warm-up imports for a few seconds after ``%load_ext``; exit must wait for it.

    A daemon thread frozen mid-import at interpreter exit keeps that module's
    import lock, and litellm's finalizers import while the interpreter shuts
    down: ``ipython -c`` with a short ``%%agent`` cell hung at exit about half
    the time on a loaded machine. So the thread is not a daemon.
    """
    code = (
        "get_ipython().run_line_magic('load_ext', 'kagura_magic'); import threading; "
        "print([(t.name, t.daemon) for t in threading.enumerate() if t.name.startswith('kagura')])"
    )
    result = _terminal_ipython(code)
    assert result.returncode == 0, result.stderr
    assert "[('kagura-warmup', False)]" in result.stdout


def test_html_view_for_frontends_without_widgets(kernel: Kernel) -> None:
    kernel.execute("%config AgentMagics.view = 'html'")
    try:
        run = kernel.execute(agent_cell("-m demo/echo --param tokens_per_second=100 --no-history", ANSWER))
    finally:
        kernel.execute("%config AgentMagics.view = 'auto'")
    assert run.status == "ok", run.error
    assert not run.widget_opens(), "no widgets at all"
    first = run.of_type("display_data")[0]["content"]["data"]
    assert 'class="kagura-spinner"' in first["text/html"]
    frames = run.of_type("update_display_data")
    assert len(frames) >= 3, "the answer grows in several frames"
    assert run.final_display()["data"]["text/markdown"] == ANSWER.rstrip("\n")


def test_live_widget_has_a_readable_text_fallback(kernel: Kernel) -> None:
    run = kernel.execute(agent_cell("-m demo/echo --param tokens_per_second=0 --no-history", "hi"))
    first = run.of_type("display_data")[0]["content"]["data"]
    assert first["text/plain"] == "Streaming an answer from demo/echo…"
    assert "application/vnd.jupyter.widget-view+json" in first


def test_the_first_cell_of_a_session_says_it_is_loading_litellm() -> None:
    """The warm-up imports litellm for a few seconds after ``%load_ext``; "Waiting for demo/echo"
    meanwhile would blame the model for our start-up."""
    fresh = Kernel()
    try:
        assert fresh.execute("%load_ext kagura_magic").status == "ok"
        first = fresh.execute(agent_cell("-m demo/echo --param tokens_per_second=0 --no-history", "hello"))
        second = fresh.execute(agent_cell("-m demo/echo --param tokens_per_second=0 --no-history", "again"))
    finally:
        fresh.shutdown()

    def spinner(run: Execution) -> str:
        states = widget_states(run).values()
        return next(s["value"] for s in states if 'class="kagura-spinner"' in s.get("value", ""))

    assert "Loading litellm" in spinner(first) and first.final_display() is not None
    assert first.final_display()["data"]["text/markdown"] == "hello"
    assert "Waiting for demo/echo" in spinner(second) and "Loading" not in spinner(second)


def _image_tags(run: Execution) -> tuple[list[str], str]:
    """The ``<img`` sources in every widget value sent, and the settled HTML."""
    values = [state.get("value", "") for state in widget_states(run).values()]
    values += [value for _, value, _ in value_updates(run)]
    live = [src for value in values for src in re.findall(r'<img src="([^"]*)"', value)]
    final = run.final_display()
    return live, final["data"]["text/html"] if final else ""


def test_remote_images_are_placeholders_unless_allowed(kernel: Kernel) -> None:
    answer = "A chart ![sales](https://tracker.example/c.png?q=secret), a ![d](data:image/png;base64,iVBO)\n"
    run = kernel.execute(agent_cell("-m demo/echo --param tokens_per_second=100 --no-history", answer))
    live, settled = _image_tags(run)
    assert live and all(src.startswith("data:") for src in live), live
    assert "tracker.example/c.png" not in "".join(live)
    assert '<img src="https://' not in settled and 'class="kagura-remote-image"' in settled
    assert "(image from tracker.example)" in settled

    kernel.execute("%config AgentMagics.remote_images = True")
    try:
        run = kernel.execute(agent_cell("-m demo/echo --param tokens_per_second=100 --no-history", answer))
    finally:
        kernel.execute("%config AgentMagics.remote_images = False")
    live, settled = _image_tags(run)
    assert "https://tracker.example/c.png?q=secret" in live
    assert '<img src="https://tracker.example/c.png?q=secret"' in settled


def test_a_settled_answer_closes_every_widget_it_opened(kernel: Kernel) -> None:
    """Each cell used to leave two HTMLStyle models and a Layout open in the kernel."""
    count = "from ipywidgets.widgets.widget import _instances; print(len(_instances))"
    kernel.execute(agent_cell("-m demo/echo --param tokens_per_second=0 --no-history", "warm"))
    before = int(kernel.execute(count).stdout)
    body = "# Title\\n\\nSome **text** and $x$.\\n\\n| a | b |\\n|---|---|\\n| 1 | 2 |\\n"
    loop = (
        "ip = get_ipython()\n"
        "for n in range(50):\n"
        "    ip.run_cell_magic('agent', '-m demo/echo --param tokens_per_second=0 --no-history', "
        f"'{body}' * 3)\n"
    )
    run = kernel.execute(loop)
    assert run.status == "ok", run.error
    assert len(run.widget_opens()) >= 50 * 5, "the cells did open widgets"
    assert int(kernel.execute(count).stdout) == before
    closed = {m["content"]["comm_id"] for m in run.of_type("comm_close")}
    assert {m["content"]["comm_id"] for m in run.widget_opens()} <= closed, (
        "the frontend was told of each close"
    )


def test_a_thinking_model_shows_its_thinking_then_closes_it_above_the_answer(kernel: Kernel) -> None:
    from kagura_magic.providers.demo_answers import THINKER

    run = kernel.execute("%%agent -m demo/thinker --param tokens_per_second=400 --no-history\nweekdays?")
    assert run.status == "ok", run.error
    states = widget_states(run)
    sections = [cid for cid, state in states.items() if state.get("_model_name") == "AccordionModel"]
    assert len(sections) == 1, "one thinking section"
    section_updates = [
        m["content"]["data"]["state"] for m in run.widget_updates() if m["content"]["comm_id"] == sections[0]
    ]
    assert states[sections[0]].get("selected_index") == 0, "open while the model thinks"
    assert any(u.get("selected_index") is None for u in section_updates), "closed when the answer starts"
    assert any(str(t).startswith("Thought for") for u in section_updates for t in u.get("titles", ())), (
        section_updates
    )
    thought_values = "".join(value for _, value, _ in value_updates(run)) + "".join(
        s.get("value", "") for s in states.values()
    )
    assert "two full working" in thought_values and "5 + 5 = 10" in thought_values

    # In arrival order: thinking frames, then the section closes, then the answer's first text.
    def first(predicate: Callable[[dict], bool]) -> int:
        return next(index for index, message in enumerate(run.messages) if predicate(message))

    def state(message: dict) -> dict:
        return (
            message["content"].get("data", {}).get("state", {})
            if message["msg_type"].startswith("comm")
            else {}
        )

    thinking_at = first(lambda m: "5 + 5 = 10" in str(state(m).get("value", "")))
    closed_at = first(
        lambda m: (
            m["content"].get("comm_id") == sections[0]
            and "selected_index" in state(m)
            and state(m)["selected_index"] is None
        )
    )
    answer_at = first(lambda m: "two full working" in str(state(m).get("value", "")))
    assert thinking_at < closed_at <= answer_at, (thinking_at, closed_at, answer_at)

    final = run.final_display()["data"]
    answer = THINKER.partition("</think>")[2].lstrip()
    assert final["text/plain"] == answer
    assert "<think>" not in final["text/plain"] and "5 + 5 = 10" not in final["text/plain"]
    assert '<details class="kagura-thinking"><summary>Thought for' in final["text/html"]
    assert "5 + 5 = 10" in final["text/html"] and "&lt;think&gt;" not in final["text/html"]
    assert "5 + 5" not in final["text/markdown"]


def test_show_thinking_off_keeps_only_the_clock(kernel: Kernel) -> None:
    kernel.execute("%config AgentMagics.show_thinking = False")
    try:
        run = kernel.execute("%%agent -m demo/thinker --param tokens_per_second=400 --no-history\nweekdays?")
    finally:
        kernel.execute("%config AgentMagics.show_thinking = True")
    assert run.status == "ok", run.error
    states = widget_states(run)
    assert not [s for s in states.values() if s.get("_model_name") == "AccordionModel"]
    sent = "".join(value for _, value, _ in value_updates(run)) + "".join(
        s.get("value", "") for s in states.values()
    )
    assert "Thinking…" in sent and "5 + 5 = 10" not in sent
    final = run.final_display()["data"]
    assert 'class="kagura-thinking"' not in final["text/html"] and "two full working" in final["text/html"]


def test_thinking_is_never_sent_back_as_history(kernel: Kernel, openai_server: OpenAIServer) -> None:
    kernel.execute("import os; os.environ['OPENAI_API_KEY'] = 'sk-kernel-test-1'\n%agent reset")
    try:
        kernel.execute("%%agent -m demo/thinker --param tokens_per_second=0\nweekdays?", cell_id="cell-t")
        shown = kernel.execute("%agent history").stdout
        assert "[thinking left out]" in shown, shown
        kernel.execute(
            agent_cell(f"-m openai/ok --api-base {openai_server.api_base}", "And?"), cell_id="cell-u"
        )
        sent = openai_server.requests[-1]["messages"]
        assert [m["role"] for m in sent] == ["user", "assistant", "user"]
        assert sent[1]["content"].startswith("**10 weekdays.**") and "5 + 5" not in sent[1]["content"]
    finally:
        kernel.execute("%agent reset\ndel os.environ['OPENAI_API_KEY']")


def test_a_tool_call_answer_is_shown_as_a_card_not_an_error(
    kernel: Kernel, openai_server: OpenAIServer
) -> None:
    """A model that answers with a call (tools given through --param): a card live and settled, no error."""
    kernel.execute("import os; os.environ['OPENAI_API_KEY'] = 'sk-kernel-test-1'")
    run = kernel.execute(
        agent_cell(
            f"-m openai/tool-call --api-base {openai_server.api_base} --no-history -o called", "weather?"
        )
    )
    assert run.status == "ok", run.error
    cards = [value for _, value, _ in value_updates(run) if "kagura-tool-call" in value]
    assert cards and "get_weather" in cards[-1], "the card is shown live, before the answer settles"
    final = run.final_display()
    assert final is not None
    data = final["data"]
    assert (
        '<div class="kagura-tool-call">' in data["text/html"]
        and "<code>get_weather</code>" in data["text/html"]
    )
    assert "Paris" in data["text/html"] and "does not run tools" in data["text/html"]
    assert data["text/plain"] == 'Tool call: get_weather({"city": "Paris"})'
    assert (
        "**Tool call** `get_weather`" in data["text/markdown"] and '"city": "Paris"' in data["text/markdown"]
    )
    assert final["metadata"]["kagura_magic"]["tool_calls"] == ["get_weather"]
    assert "tool call, not text" not in run.stderr
    assert kernel.execute("print(repr(called))").stdout.strip() == "''", "-o stores the answer text"


def test_a_drop_while_the_model_thinks_says_so_and_keeps_the_thinking(kernel: Kernel) -> None:
    run = kernel.execute(
        "%%agent -m demo/thinker --param tokens_per_second=0 --param fail_after=120 --no-history\nweekdays?"
    )
    assert run.status == "error"
    shown = "\n".join(run.error["traceback"])
    assert "no answer text arrived" in shown and "Traceback" not in shown, shown
    final = run.final_display()
    assert final is not None
    html = final["data"]["text/html"]
    assert '<details class="kagura-thinking">' in html and "weekdays" in html, "the thinking so far is kept"
    assert final["metadata"]["kagura_magic"]["status"] == "error"


def test_interrupt_while_the_model_thinks_closes_the_connection_within_a_second(
    kernel: Kernel, openai_server: OpenAIServer
) -> None:
    openai_server.slow_delay = 0.1
    kernel.execute("import os; os.environ['OPENAI_API_KEY'] = 'sk-kernel-test-1'")
    interrupted_at: list[float] = []

    def on_message(message: dict) -> None:
        if not interrupted_at and "step 3, " in json.dumps(message["content"]):
            interrupted_at.append(time.monotonic())
            kernel.interrupt()

    cell = agent_cell(f"-m openai/reasoning-trickle --api-base {openai_server.api_base} --no-history", "go")
    run = kernel.execute(cell, on_message=on_message, timeout=60)
    assert interrupted_at, "the thinking was shown live"
    assert openai_server.disconnected.wait(3)
    closed = openai_server.disconnect_times[-1] - interrupted_at[0]
    assert closed < 1.0, f"the server saw the close {closed:.2f} s after the interrupt"
    assert run.status == "error"
    assert "was still thinking" in run.error["traceback"][0], run.error["traceback"]
    final = run.final_display()
    assert final is not None and "step 3, " in final["data"]["text/html"], "the thinking is kept"
    assert kernel.execute("2 + 2").status == "ok"
    kernel.execute("del os.environ['OPENAI_API_KEY']")


# -- the Stop button ----------------------------------------------------------------------
def test_the_stop_button_ends_the_answer_while_the_cell_runs(
    kernel: Kernel, openai_server: OpenAIServer
) -> None:
    """A click, sent as the frontend sends it while the cell still runs, closes the connection
    within a second, keeps the partial answer, and the cell ends as an answer does: no error,
    the next queued cell runs."""
    openai_server.slow_delay = 0.05
    kernel.execute("import os; os.environ['OPENAI_API_KEY'] = 'sk-kernel-test-1'")
    long_prompt = " ".join(f"word{i}" for i in range(400))
    session, shell = kernel.client.session, kernel.client.shell_channel
    buttons: list[str] = []
    clicked_at: list[float] = []
    frames = 0
    queued = session.msg("execute_request", {"code": "after_stop = 'ran'", "silent": False})

    def on_message(message: dict) -> None:
        nonlocal frames
        content = message["content"]
        if (
            message["msg_type"] == "comm_open"
            and content["data"]["state"].get("_model_name") == "ButtonModel"
        ):
            buttons.append(content["comm_id"])
        if message["msg_type"] == "comm_msg":
            frames += 1
            if frames == 1:
                shell.send(queued)  # a cell queued behind the answer, as "Run all" does
            if frames == 10 and buttons and not clicked_at:
                click = {"comm_id": buttons[0], "data": {"method": "custom", "content": {"event": "click"}}}
                clicked_at.append(time.monotonic())
                shell.send(session.msg("comm_msg", click))

    cell = agent_cell(
        f"-m openai/trickle --api-base {openai_server.api_base} --no-history -o kept", long_prompt
    )
    run = kernel.execute(cell, on_message=on_message, timeout=60)
    assert buttons, "a Stop button is shown while the answer streams"
    state = widget_states(run)[buttons[0]]
    assert state["description"] == "Stop" and state["tooltip"], "a visible, labelled button"
    assert clicked_at, "the answer was still streaming at the tenth frame"
    assert openai_server.disconnected.wait(3), "the connection was closed"
    closed = openai_server.disconnect_times[-1] - clicked_at[0]
    assert closed < 1.0, f"the server saw the close {closed:.2f} s after the click"
    assert run.status == "ok", run.error
    final = run.final_display()
    assert final is not None
    data = final["data"]
    partial = data["text/plain"].split("\n\n[")[0]
    assert partial and long_prompt.startswith(partial) and len(partial) < len(long_prompt)
    assert "[Stopped after ~" in data["text/plain"]
    assert "Stopped after" in data["text/html"] and "kagura-note kagura-error" not in data["text/html"]
    assert final["metadata"]["kagura_magic"]["status"] == "stopped"
    assert kernel.execute("print(after_stop, kept == " + repr(partial) + ")").stdout.split() == [
        "ran",
        "True",
    ], "the queued cell ran, and -o holds the answer as it stood"
    kernel.execute("del os.environ['OPENAI_API_KEY']")
