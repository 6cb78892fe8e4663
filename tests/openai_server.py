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
``stall``       a few chunks, then silence for ``stall_seconds``
``malformed``   a few chunks, then a line that is not JSON
``slow``        like ``ok`` but ``slow_delay`` seconds between chunks (for cancellation)
``answer``      stream ``server.answer`` (set by the test) instead of the prompt

Every request and every client disconnect is recorded, so tests can assert
that cancelling a stream really closed the connection.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_PIECE = re.compile(r"\s*\S{1,4}|\s+")


class OpenAIServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[dict[str, Any]] = []
        self.disconnects = 0
        self.disconnected = threading.Event()
        self.flaky_failures = 1
        self.chunk_delay = 0.0
        self.slow_delay = 0.05
        self.stall_seconds = 5.0
        self.answer = ""
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

    def record(self, body: dict[str, Any]) -> int:
        with self.lock:
            self.requests.append(body)
            return len(self.requests)

    def count_scenario(self, scenario: str) -> int:
        with self.lock:
            return sum(1 for r in self.requests if r.get("model") == scenario)

    def note_disconnect(self) -> None:
        with self.lock:
            self.disconnects += 1
        self.disconnected.set()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: OpenAIServer

    def setup(self) -> None:
        super().setup()
        # Without it, Nagle's algorithm holds small SSE writes ~40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        self.server.record(body)
        scenario = str(body.get("model", "ok"))
        try:
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
        text = self.server.answer if scenario == "answer" else _last_user_text(body)
        if not body.get("stream"):
            self._complete(text, body)
            return
        pieces = _PIECE.findall(text)
        if scenario == "drop-eof":
            self._stream_unchunked(pieces[:3], body)
            return
        self._start_stream()
        self._send_event(_chunk(body, {"role": "assistant", "content": ""}))
        delay = self.server.slow_delay if scenario == "slow" else self.server.chunk_delay
        for index, piece in enumerate(pieces):
            if index == 3 and scenario in ("drop", "stall", "malformed"):
                self._fault(scenario)
                return
            if delay:
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
            deadline = time.monotonic() + self.server.stall_seconds
            while time.monotonic() < deadline:
                time.sleep(0.05)
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
        elif scenario == "malformed":
            self._send_raw(b'data: {"id": "x", "choices": [{"delta": {"content": "oops"\n\n')
            self._send_raw(b"data: [DONE]\n\n")
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

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
