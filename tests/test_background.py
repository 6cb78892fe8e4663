"""``%%agent --bg`` in a real kernel: answers that stream while other cells run (issue 15).

The test client reads every iopub message (``Kernel.everything``), so a
background answer's messages, which keep coming after its cell's execution
ended, are checked against the cell they are addressed to.
"""

from __future__ import annotations

import time

from tests.kernel_client import Execution, Kernel
from tests.openai_server import OpenAIServer

ANSWER_A = "Alpha answer. " + " ".join(f"alpha{i}" for i in range(120))
ANSWER_B = "Beta answer. " + " ".join(f"beta{i}" for i in range(60))


def texts_sent(execution: Execution) -> str:
    """Every widget value a request's messages carried (opened or updated), joined."""
    values = []
    for message in execution.messages:
        if message["msg_type"] in ("comm_open", "comm_msg"):
            state = (message["content"].get("data") or {}).get("state") or {}
            values.append(str(state.get("value", "")))
    return "".join(values)


def settled(kernel: Kernel, execution: Execution) -> dict:
    """The last bundle shown for the display the cell opened (updates applied, from any request)."""
    content = kernel.settled_display(execution)
    assert content is not None, "the cell opened a display"
    return content


def test_two_background_answers_stream_at_once_each_into_its_own_cell(
    kernel: Kernel, openai_server: OpenAIServer
) -> None:
    """Two models at two speeds: the local server (over HTTP) and the demo provider."""
    openai_server.slow_delay = 0.03
    kernel.execute("%agent reset\nimport os; os.environ['OPENAI_API_KEY'] = 'sk-kernel-test-1'")
    started = time.monotonic()
    run_a = kernel.execute(
        f"%%agent --bg -m openai/slow --api-base {openai_server.api_base} -o a\n{ANSWER_A}", cell_id="bg-a"
    )
    run_b = kernel.execute(
        f"%%agent --bg -m demo/echo --param tokens_per_second=400 -o b\n{ANSWER_B}", cell_id="bg-b"
    )
    assert run_a.status == "ok" and run_b.status == "ok", (run_a.error, run_b.error)
    between = kernel.execute("print(1 + 1, a.done(), type(a).__name__)")
    assert between.stdout.split() == ["2", "False", "BackgroundAnswer"], (
        "a cell ran while the first answer still streamed; -o holds a handle until it ends"
    )
    assert time.monotonic() - started < 5, "the cells returned at once (the answers take ~10 s)"
    waited = kernel.execute("%agent wait")
    assert waited.status == "ok", waited.error
    check = kernel.execute(f"print(a == {ANSWER_A!r}, b == {ANSWER_B!r})")
    assert check.stdout.split() == ["True", "True"], "-o holds each answer once it ended"

    a_all, b_all = kernel.addressed_to(run_a), kernel.addressed_to(run_b)
    assert "alpha119" in texts_sent(a_all) and "beta" not in texts_sent(a_all), "no cross-talk"
    assert "beta59" in texts_sent(b_all) and "alpha" not in texts_sent(b_all), "no cross-talk"
    assert "alpha" not in texts_sent(kernel.addressed_to(between)), "nothing landed in the cell between"
    final_a, final_b = settled(kernel, run_a), settled(kernel, run_b)
    assert final_a["data"]["text/plain"] == ANSWER_A and final_b["data"]["text/plain"] == ANSWER_B
    assert final_a["metadata"]["kagura_magic"]["status"] == "complete"

    history = kernel.execute("%agent history").stdout
    assert history.index("Alpha answer") < history.index("Beta answer"), (
        "recorded in the order the cells ran, though the second ended first"
    )
    kernel.execute("del os.environ['OPENAI_API_KEY']\n%agent reset")


def test_the_background_setting_makes_every_cell_a_background_one(kernel: Kernel) -> None:
    kernel.execute("%config AgentMagics.background = True")
    try:
        run = kernel.execute(
            "%%agent -m demo/echo --param tokens_per_second=50 --no-history -o x\nhello there"
        )
        assert run.status == "ok", run.error
        assert kernel.execute("print(type(x).__name__)").stdout.strip() == "BackgroundAnswer"
        kernel.execute("%agent wait")
        assert kernel.execute("print(x)").stdout.strip() == "hello there"
    finally:
        kernel.execute("%config AgentMagics.background = False")


def test_a_background_failure_is_said_in_its_own_output_and_raises_nowhere(kernel: Kernel) -> None:
    run = kernel.execute(
        "%%agent --bg -m demo/story --param tokens_per_second=400 --param fail_after=300 --no-history -o s\n"
        "Tell me a story.",
        cell_id="bg-fail",
    )
    assert run.status == "ok", run.error
    other = kernel.execute("import time; time.sleep(1.5); print('other cell fine')")
    assert other.status == "ok" and "other cell fine" in other.stdout, "the failure raised into no other cell"
    kernel.execute("%agent wait")
    final = settled(kernel, run)
    html = final["data"]["text/html"]
    assert "The Lighthouse" in html, "what arrived is kept"
    assert 'class="kagura-note kagura-error"' in html and "demo fail_after" in html, "said in its own output"
    result = kernel.execute("s.result()")
    assert result.status == "error" and "Traceback" not in "\n".join(result.error["traceback"])
    assert "demo fail_after" in result.error["traceback"][0], "result() says what went wrong"


def test_agent_stop_closes_every_background_connection(kernel: Kernel, openai_server: OpenAIServer) -> None:
    openai_server.slow_delay = 0.05
    kernel.execute("import os; os.environ['OPENAI_API_KEY'] = 'sk-kernel-test-1'")
    prompt = " ".join(f"word{i}" for i in range(400))
    run = kernel.execute(
        f"%%agent --bg -m openai/trickle --api-base {openai_server.api_base} --no-history -o t\n{prompt}"
    )
    assert run.status == "ok", run.error
    deadline = time.monotonic() + 20
    while "word20" not in texts_sent(kernel.addressed_to(run)) and time.monotonic() < deadline:
        kernel.execute("import time; time.sleep(0.2)")  # the client reads messages while cells run
    stopped_at = time.monotonic()
    stop = kernel.execute("%agent stop")
    assert "Stopped 1 background answer." in stop.stdout, stop.stdout
    assert openai_server.disconnected.wait(3)
    assert openai_server.disconnect_times[-1] - stopped_at < 1.0, "the connection closed at once"
    kept = kernel.execute("print(len(t) > 0, t in " + repr(prompt) + ")")
    assert kept.stdout.split() == ["True", "True"], "-o holds the answer as it stood"
    final = settled(kernel, run)
    assert final["metadata"]["kagura_magic"]["status"] == "stopped"
    kernel.execute("del os.environ['OPENAI_API_KEY']")


def test_bg_in_terminal_ipython_says_it_needs_a_notebook() -> None:
    import subprocess
    import sys

    code = (
        "get_ipython().run_line_magic('load_ext', 'kagura_magic'); "
        "get_ipython().run_cell_magic('agent', '--bg -m demo/echo', 'hello')"
    )
    result = subprocess.run(
        [sys.executable, "-m", "IPython", "--no-banner", "--colors=NoColor", "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
    )
    shown = result.stdout + result.stderr
    assert "--bg needs a notebook frontend" in shown and "Traceback" not in shown, shown
    assert "hello" not in result.stdout, "nothing was asked"


def test_a_kernel_shutdown_closes_a_background_answers_connection(openai_server: OpenAIServer) -> None:
    """The answer's thread must neither keep the kernel alive nor leave the provider generating."""
    openai_server.slow_delay = 0.05
    own = Kernel(env={"OPENAI_API_KEY": "sk-kernel-test-1"})
    try:
        assert own.execute("%load_ext kagura_magic").status == "ok"
        prompt = " ".join(f"word{i}" for i in range(400))
        run = own.execute(f"%%agent --bg -m openai/trickle --api-base {openai_server.api_base}\n{prompt}")
        assert run.status == "ok", run.error
        deadline = time.monotonic() + 20
        while "word10" not in texts_sent(own.addressed_to(run)) and time.monotonic() < deadline:
            own.execute("import time; time.sleep(0.2)")
        assert "word10" in texts_sent(own.addressed_to(run)), "it was streaming"
        assert not openai_server.disconnected.is_set()
        asked = time.monotonic()
        own.manager.shutdown_kernel(now=False)  # a polite shutdown_request, as a frontend sends
        assert not own.manager.is_alive(), "the kernel exited"
        assert openai_server.disconnected.wait(5), "the connection was closed"
        assert openai_server.disconnect_times[-1] - asked < 5
    finally:
        own.client.stop_channels()
        if own.manager.is_alive():
            own.manager.shutdown_kernel(now=True)


def test_an_answer_that_ends_at_once_still_replaces_its_handle(kernel: Kernel) -> None:
    """The thread may end before the cell has stored the handle: -o must still get the value."""
    for attempt in range(5):
        run = kernel.execute(
            f"%%agent --bg -m demo/echo --param tokens_per_second=0 --no-history -o quick\nhi {attempt}"
        )
        assert run.status == "ok", run.error
        kernel.execute("%agent wait")
        assert kernel.execute("print(repr(quick))").stdout.strip() == repr(f"hi {attempt}")
