"""A local OpenAI-compatible chat server for tests and benchmarks.

Real HTTP on 127.0.0.1, spoken the way OpenAI speaks it (SSE over chunked
transfer encoding), so litellm and the openai SDK run their real code paths.
The model name chooses a behaviour, including the faults our error handling
must survive:

``ok``          echo the last user message in ~4-character chunks
``status-N``    answer HTTP N with an OpenAI-style error body
``flaky-429``   429 (with Retry-After: 0) for the first ``flaky_failures`` requests, then ``ok``
``drop``        a few chunks, then the socket is cut inside the chunked body
``drop-eof``    a few chunks in an unchunked body, then a clean close (silent truncation)
``stall``       a few chunks, then silence for ``stall_seconds`` (or until the client leaves)
``malformed``   a few chunks, then a line that is not JSON
``slow``        like ``ok`` but ``slow_delay`` seconds between chunks (for cancellation)
``answer``      stream ``server.answer`` (set by the test) instead of the prompt
``trickle``     like ``slow``, but between chunks it watches the socket: a client that leaves is
                noted at once, not at the next write (for timing how fast a cancel closes)

Faults of real providers and proxies, for the error messages and retry rules:

``retry-after-S``       429 with ``Retry-After: S`` (seconds) ``flaky_failures`` times, then ``ok``
``retry-after-date-S``  the same with an HTTP-date S seconds ahead (on a whole second)
``retry-after-ms-N``    the same with only ``retry-after-ms: N`` (what OpenAI also sends)
``silent``              200 and SSE headers, then nothing for ``stall_seconds`` (or until the client leaves)
``html-502``            nginx's HTML "502 Bad Gateway" page
``cloudflare-502``      a Cloudflare error page: a long HTML page whose ``<title>`` names the site
``html-404``            an HTML 404 page (a web server that is not the API: wrong --api-base)
``detail-404``          ``{"detail": "Not Found"}`` (vLLM/FastAPI when the URL lacks /v1)
``validation-422``      FastAPI's validation error list
``traceback-500``       a JSON error whose message is a Python traceback
``quota-429``           OpenAI's ``insufficient_quota`` 429 (billing, not a rate)
``forbidden-403``       OpenAI's 403 for an unsupported region
``context-400``         OpenAI's 400 ``context_length_exceeded`` (the conversation is too long)
``inband-N``            200 and SSE headers, then an in-band ``{"error": {..., "code": N}}`` event first
``split-surrogate``     an emoji's two UTF-16 halves in two chunks (a proxy cutting by UTF-16 length)
``no-text-R``           a stream without any text that ends with finish_reason R (tool_calls, length...)
``filtered``            a few words, then finish_reason content_filter
``cut-json``            the start of a JSON object, then finish_reason length (max_tokens reached)
``not-streamed``        a complete JSON answer although a stream was asked for (a proxy that ignores it)
``bad-bytes``           a few chunks, then one whose text holds bytes that are not UTF-8 (``\\xff\\xfe``)
``echo-key-401``        a 401 whose message echoes the key and the path (query included) the client sent

Reasoning models and tool calls:

``reasoning``           thinking deltas (``reasoning_content``), then the answer, then usage
``reasoning-drop``      thinking deltas, then the socket is cut before any answer text
``reasoning-trickle``   thinking deltas ``slow_delay`` apart, watching the socket (for a cancel
                        while the model thinks), then a short answer
``think-inline``        reasoning inline in ``<think>`` tags, the tags cut across chunks
``think-cut-N``         ``THINK_INLINE`` in two chunks, cut after its N-th character
``tool-call``           a tool call whose arguments arrive in pieces, no text

A POST to a path ending in ``/messages`` is spoken as Anthropic's Messages API
(``anthropic/MODEL`` with ``--api-base``): ``thinking`` streams a thinking block
(thinking deltas, then a signature), then a text block, as Claude with extended
thinking does; any other model streams the prompt back as one text block.

Every request (its body, and its ``Authorization`` header in ``authorizations``)
and every client disconnect is recorded, so tests can assert what was sent
and that cancelling a stream really closed the connection. ``disconnect_times``
holds the ``time.monotonic()`` of each disconnect, the clock every process on
the machine shares: a test can time a child process's close from its Ctrl-C.
``connections_opened`` counts the TCP connections accepted (kept-alive ones
serve several requests).
"""

from __future__ import annotations

import json
import math
import re
import select
import signal
import socket
import threading
import time
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from kagura_magic.config import LLMConfig

_PIECE = re.compile(r"\s*\S{1,4}|\s+")

_NGINX_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.18.0 (Ubuntu)</center>\r\n"
    "</body>\r\n</html>\r\n" + "<!-- a padding to disable MSIE and Chrome friendly error page -->\r\n" * 6
)
_CLOUDFLARE_STYLES = 40 * '<link rel="stylesheet" id="cf_styles-css" href="/cdn-cgi/styles/main.css" />'
_CLOUDFLARE_502 = (
    '<!DOCTYPE html>\n<!--[if lt IE 7]> <html class="no-js ie6 oldie" lang="en-US"> <![endif]-->\n'
    '<html lang="en-US"><head><title>api.example.com | 502: Bad gateway</title>'
    '<meta charset="UTF-8" /><meta name="robots" content="noindex, nofollow" />'
    + _CLOUDFLARE_STYLES
    + '</head><body><div id="cf-wrapper"><h1>Bad gateway</h1><span class="code-label">Error code 502</span>'
    "</div></body></html>"
)
_APACHE_404 = (
    '<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\n<html><head>\n<title>404 Not Found</title>\n'
    "</head><body>\n<h1>Not Found</h1>\n"
    "<p>The requested URL was not found on this server.</p>\n</body></html>\n"
)
_HTML_PAGES = {
    "html-502": (502, _NGINX_502),
    "cloudflare-502": (502, _CLOUDFLARE_502),
    "html-404": (404, _APACHE_404),
}


THINK_INLINE = "<think>I should greet.</think>\n\nHello there."
"""What ``think-cut-N`` streams: a local reasoning model's answer with its thinking inline."""

TEST_KEY = "sk-test-SECRET-value-0123456789"
"""The API key tests send; errors and logs must never show it."""


def local_config(server: OpenAIServer, scenario: str, **fields: object) -> LLMConfig:
    """A config that asks ``server`` for ``scenario``, retrying fast."""
    settings = {"api_key": TEST_KEY, "retry_backoff": 0.01, **fields}
    return LLMConfig(model=f"openai/{scenario}", api_base=server.api_base, **settings)


def interrupt_once_requested(server: OpenAIServer, requests: int, after: float = 0.3) -> threading.Thread:
    """SIGINT to the main thread ``after`` seconds once ``server`` has had ``requests`` requests.

    Waiting for the request (rather than a fixed time) makes the interrupt land
    where the test means it to, however long litellm's import took.
    """
    main = threading.main_thread().ident
    assert main is not None

    def wait_then_interrupt() -> None:
        deadline = time.monotonic() + 60
        while len(server.requests) < requests and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(after)
        signal.pthread_kill(main, signal.SIGINT)

    thread = threading.Thread(target=wait_then_interrupt, daemon=True)
    thread.start()
    return thread


class OpenAIServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[dict[str, Any]] = []
        self.authorizations: list[str | None] = []
        self.disconnects = 0
        self.disconnected = threading.Event()
        self.disconnect_times: list[float] = []  # time.monotonic() of each disconnect
        self.connections_opened = 0  # TCP connections accepted: fewer than requests when kept alive
        self.flaky_failures = 1
        self.chunk_delay = 0.0
        self.slow_delay = 0.05
        self.stall_seconds = 5.0
        self.answer = ""
        self.arrivals: list[tuple[str, float]] = []  # (scenario, time.monotonic()) of every request
        self.lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def start(self) -> OpenAIServer:
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client closing a keep-alive connection is normal here, not an error to print."""

    def record(self, body: dict[str, Any], authorization: str | None = None) -> int:
        with self.lock:
            del self.authorizations[len(self.requests) :]  # kept in step when a test clears the requests
            self.requests.append(body)
            self.authorizations.append(authorization)
            self.arrivals.append((str(body.get("model", "ok")), time.monotonic()))
            return len(self.requests)

    def count_scenario(self, scenario: str) -> int:
        with self.lock:
            return sum(1 for r in self.requests if r.get("model") == scenario)

    def note_disconnect(self) -> None:
        with self.lock:
            self.disconnects += 1
            self.disconnect_times.append(time.monotonic())
        self.disconnected.set()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: OpenAIServer

    def setup(self) -> None:
        super().setup()
        # Without it, Nagle's algorithm holds small SSE writes ~40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.lock:
            self.server.connections_opened += 1

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        self.server.record(body, self.headers.get("Authorization"))
        scenario = str(body.get("model", "ok"))
        try:
            if self.path.rstrip("/").endswith("/messages"):
                self._serve_anthropic(scenario, body)
            else:
                self._serve(scenario, body)
        except (BrokenPipeError, ConnectionResetError):
            self.server.note_disconnect()
            self.close_connection = True

    # -- scenarios -------------------------------------------------------
    def _serve(self, scenario: str, body: dict[str, Any]) -> None:
        if scenario.startswith("status-"):
            self._error(int(scenario.split("-", 1)[1]))
            return
        if scenario == "flaky-429" and self.server.count_scenario(scenario) <= self.server.flaky_failures:
            self._error(429, headers={"Retry-After": "0"})
            return
        if self._provider_fault(scenario):
            return
        text = self.server.answer if scenario == "answer" else _last_user_text(body)
        if not body.get("stream") or scenario == "not-streamed":
            self._complete(text, body)
            return
        pieces = _PIECE.findall(text)
        if scenario == "drop-eof":
            self._stream_unchunked(pieces[:3], body)
            return
        self._start_stream()
        self._send_event(_chunk(body, {"role": "assistant", "content": ""}))
        delay = self.server.slow_delay if scenario in ("slow", "trickle") else self.server.chunk_delay
        for index, piece in enumerate(pieces):
            if index == 3 and scenario in ("drop", "stall", "malformed"):
                self._fault(scenario)
                return
            if scenario == "trickle":
                if self._wait_for_disconnect(delay):
                    self.close_connection = True
                    return
            elif delay:
                time.sleep(delay)
            self._send_event(_chunk(body, {"content": piece}))
        self._send_event(_chunk(body, {}, finish_reason="stop"))
        if (body.get("stream_options") or {}).get("include_usage"):
            self._send_event(_usage_chunk(body, text, len(pieces)))
        self._send_raw(b"data: [DONE]\n\n")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _fault(self, scenario: str) -> None:
        if scenario == "drop":
            # Cut mid-body: no terminating zero-length chunk.
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
        elif scenario == "stall":
            self._wait_for_disconnect(self.server.stall_seconds)
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
        elif scenario == "malformed":
            self._send_raw(b'data: {"id": "x", "choices": [{"delta": {"content": "oops"\n\n')
            self._send_raw(b"data: [DONE]\n\n")
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

    def _provider_fault(self, scenario: str) -> bool:
        """The faults of real providers and proxies (see the module docstring); False if none."""
        if scenario.startswith("retry-after-"):
            if self.server.count_scenario(scenario) > self.server.flaky_failures:
                return False  # then answer normally
            value = scenario.removeprefix("retry-after-")
            if value.startswith("date-"):
                when = math.ceil(time.time()) + float(value.removeprefix("date-"))
                headers = {"Retry-After": formatdate(when, usegmt=True)}
            elif value.startswith("ms-"):
                headers = {"retry-after-ms": value.removeprefix("ms-")}
            else:
                headers = {"Retry-After": value}
            self._error(429, headers=headers)
        elif scenario == "reasoning":  # a reasoning model: thinking deltas, then the answer, then usage
            thoughts = [{"reasoning_content": piece} for piece in ("Two plus ", "two is ", "four.")]
            self._stream_events([*thoughts, {"content": "The answer "}, {"content": "is 4."}], "stop")
        elif scenario == "reasoning-drop":  # the connection is lost while the model still thinks
            self._start_stream()
            for piece in ("Let me think ", "about this ", "carefully."):
                self._send_event(_chunk({"model": scenario}, {"reasoning_content": piece}))
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
        elif scenario == "reasoning-trickle":  # thinks slowly; a client that leaves is noted at once
            self._start_stream()
            for index in range(400):
                self._send_event(_chunk({"model": scenario}, {"reasoning_content": f"step {index}, "}))
                if self._wait_for_disconnect(self.server.slow_delay):
                    self.close_connection = True
                    return
            self._stream_events([{"content": "Done."}], "stop")
        elif scenario.startswith("think-cut-"):
            cut = int(scenario.removeprefix("think-cut-"))
            pieces = [THINK_INLINE[:cut], THINK_INLINE[cut:]]
            self._stream_events([{"content": piece} for piece in pieces if piece], "stop")
        elif scenario == "think-inline":  # a local server that sends reasoning inline, tags cut by chunks
            pieces = ["<th", "ink>I should ", "greet.</thi", "nk>\n\nHello", " there."]
            self._stream_events([{"content": piece} for piece in pieces], "stop")
        elif scenario == "tool-call":  # a tool call whose arguments arrive in pieces, no text
            calls = [
                {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": ""},
                        }
                    ]
                },
                {"tool_calls": [{"index": 0, "function": {"arguments": '{"city": '}}]},
                {"tool_calls": [{"index": 0, "function": {"arguments": '"Paris"}'}}]},
            ]
            self._stream_events(calls, "tool_calls")
        elif scenario == "split-surrogate":
            self._stream_events([{"content": "A\ud83c"}, {"content": "\udf89B"}], "stop")
        elif scenario == "filtered":
            self._stream_events([{"content": "I was starting "}, {"content": "to say"}], "content_filter")
        elif scenario == "cut-json":
            self._stream_events([{"content": '{"rows": 3, "note": "unfini'}], "length")
        elif scenario.startswith("no-text-"):
            self._stream_events([], scenario.removeprefix("no-text-"))
        elif scenario == "silent":
            self._start_stream()
            self._wait_for_disconnect(self.server.stall_seconds)
            self.close_connection = True
        elif scenario in _HTML_PAGES:
            status, page = _HTML_PAGES[scenario]
            self._send_body(status, page.encode(), "text/html")
        elif scenario == "detail-404":
            self._send_body(404, b'{"detail":"Not Found"}')
        elif scenario == "validation-422":
            detail = [{"loc": ["body", "messages", 0, "content"], "msg": "field required", "type": "missing"}]
            self._send_body(422, json.dumps({"detail": detail}).encode())
        elif scenario == "traceback-500":
            trace = (
                "Traceback (most recent call last):\n"
                '  File "/app/server.py", line 42, in handle\n'
                "    raise RuntimeError('boom')\n"
                "RuntimeError: CUDA out of memory"
            )
            self._send_json_error(500, {"message": trace, "type": "server_error", "code": None})
        elif scenario == "quota-429":
            message = "You exceeded your current quota, please check your plan and billing details."
            error = {"message": message, "type": "insufficient_quota", "code": "insufficient_quota"}
            self._send_json_error(429, error)
        elif scenario == "forbidden-403":
            message = "Country, region, or territory not supported"
            code = "unsupported_country_region_territory"
            error = {"message": message, "type": "request_forbidden", "code": code}
            self._send_json_error(403, error)
        elif scenario == "context-400":
            message = (
                "This model's maximum context length is 8192 tokens. However, your messages "
                "resulted in 9100 tokens. Please reduce the length of the messages."
            )
            error = {"message": message, "type": "invalid_request_error", "code": "context_length_exceeded"}
            self._send_json_error(400, error)
        elif scenario == "bad-bytes":
            fault = {"model": "fault"}
            self._start_stream()
            self._send_event(_chunk(fault, {"role": "assistant", "content": ""}))
            for piece in ("Good ", "so far. "):
                self._send_event(_chunk(fault, {"content": piece}))
            good = json.dumps(_chunk(fault, {"content": "then BAD"})).encode()
            self._send_raw(b"data: " + good.replace(b"BAD", b"\xff\xfe") + b"\n\n")
            self._send_event(_chunk(fault, {}, finish_reason="stop"))
            self._send_raw(b"data: [DONE]\n\n")
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        elif scenario == "echo-key-401":
            key = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
            message = f"Incorrect API key provided: {key}. Request: POST {self.path}"
            error = {"message": message, "type": "invalid_request_error"}
            self._send_json_error(401, {**error, "code": "invalid_api_key"})
        elif scenario.startswith("inband-"):
            code = int(scenario.removeprefix("inband-"))
            messages = {
                400: "Your request was rejected by the safety system.",
                503: "Model is overloaded, please retry.",
            }
            kind = "invalid_request_error" if code < 500 else "server_error"
            self._start_stream()
            error = {"message": messages.get(code, "Error."), "type": kind, "code": code}
            self._send_event({"error": error})
            self._send_raw(b"data: [DONE]\n\n")
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        else:
            return False
        return True

    def _serve_anthropic(self, scenario: str, body: dict[str, Any]) -> None:
        """Anthropic's Messages API stream: typed events, a thinking block before the text."""
        blocks: list[tuple[str, list[str]]] = []
        if scenario == "thinking":
            blocks.append(("thinking", ["The user wants ", "a greeting; ", "keep it short."]))
            blocks.append(("text", ["Hello", " from", " Claude."]))
        else:
            blocks.append(("text", _PIECE.findall(_last_user_text(body))))
        self._start_stream()
        usage = {"input_tokens": 12, "output_tokens": 1}
        message = {"id": "msg_local", "type": "message", "role": "assistant", "content": [],
                   "model": scenario, "stop_reason": None, "stop_sequence": None, "usage": usage}  # fmt: skip
        self._send_anthropic("message_start", {"message": message})
        for index, (kind, pieces) in enumerate(blocks):
            empty = {"type": "thinking", "thinking": "", "signature": ""} if kind == "thinking" else {}
            block = empty or {"type": "text", "text": ""}
            self._send_anthropic("content_block_start", {"index": index, "content_block": block})
            for piece in pieces:
                delta = {"type": f"{kind}_delta", kind: piece}
                self._send_anthropic("content_block_delta", {"index": index, "delta": delta})
            if kind == "thinking":
                signature = {"type": "signature_delta", "signature": "c2lnbmVkLWxvY2FsbHk="}
                self._send_anthropic("content_block_delta", {"index": index, "delta": signature})
            self._send_anthropic("content_block_stop", {"index": index})
        end = {"delta": {"stop_reason": "end_turn", "stop_sequence": None}, "usage": {"output_tokens": 30}}
        self._send_anthropic("message_delta", end)
        self._send_anthropic("message_stop", {})
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _send_anthropic(self, event: str, payload: dict[str, Any]) -> None:
        data = json.dumps({"type": event, **payload})
        self._send_raw(f"event: {event}\ndata: {data}\n\n".encode())

    def _stream_events(self, deltas: list[dict[str, Any]], finish_reason: str) -> None:
        body = {"model": "fault"}
        self._start_stream()
        self._send_event(_chunk(body, {"role": "assistant", "content": ""}))
        for delta in deltas:
            self._send_event(_chunk(body, delta))
        self._send_event(_chunk(body, {}, finish_reason=finish_reason))
        self._send_raw(b"data: [DONE]\n\n")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _wait_for_disconnect(self, seconds: float) -> bool:
        """Wait ``seconds``, or until the client closes the connection (noted, and True)."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            readable, _, _ = select.select([self.connection], [], [], min(left, 0.05))
            if readable and not self.connection.recv(1, socket.MSG_PEEK):
                self.server.note_disconnect()
                return True
        return False

    def _send_json_error(self, status: int, error: dict[str, Any]) -> None:
        self._send_body(status, json.dumps({"error": error}).encode())

    def _send_body(self, status: int, payload: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    # -- wire helpers ------------------------------------------------------
    def _error(self, status: int, headers: dict[str, str] | None = None) -> None:
        messages = {
            401: ("Incorrect API key provided.", "invalid_request_error", "invalid_api_key"),
            404: ("The model does not exist.", "invalid_request_error", "model_not_found"),
            429: ("Rate limit reached for requests.", "rate_limit_error", "rate_limit_exceeded"),
        }
        message, kind, code = messages.get(status, ("The server had an error.", "server_error", None))
        payload = json.dumps({"error": {"message": message, "type": kind, "code": code}}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def _complete(self, text: str, body: dict[str, Any]) -> None:
        payload = json.dumps(
            {
                "id": "chatcmpl-local",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model"),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text},
                        "finish_reason": "stop",
                    }
                ],
                "usage": _usage(body, text, len(_PIECE.findall(text))),
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _start_stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _send_event(self, payload: dict[str, Any]) -> None:
        self._send_raw(b"data: " + json.dumps(payload).encode() + b"\n\n")

    def _send_raw(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _stream_unchunked(self, pieces: list[str], body: dict[str, Any]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(
            b"data: " + json.dumps(_chunk(body, {"role": "assistant", "content": ""})).encode() + b"\n\n"
        )
        for piece in pieces:
            self.wfile.write(b"data: " + json.dumps(_chunk(body, {"content": piece})).encode() + b"\n\n")
            self.wfile.flush()
        self.close_connection = True


def _last_user_text(body: dict[str, Any]) -> str:
    users = [m for m in body.get("messages", []) if m.get("role") == "user"]
    content = users[-1].get("content", "") if users else ""
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return str(content)


def _chunk(body: dict[str, Any], delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-local",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": body.get("model"),
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }


def _usage(body: dict[str, Any], text: str, pieces: int) -> dict[str, int]:
    prompt = sum(len(str(m.get("content", ""))) for m in body.get("messages", [])) // 4 + 1
    return {"prompt_tokens": prompt, "completion_tokens": pieces, "total_tokens": prompt + pieces}


def _usage_chunk(body: dict[str, Any], text: str, pieces: int) -> dict[str, Any]:
    return {
        "id": "chatcmpl-local",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": body.get("model"),
        "choices": [],
        "usage": _usage(body, text, pieces),
    }


if __name__ == "__main__":  # handy for manual runs: python tests/openai_server.py
    server = OpenAIServer().start()
    print(f"serving on {server.api_base}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()
