"""A local chat-completions server that misbehaves on purpose, one scripted answer per request.

It runs stdlib ``ThreadingHTTPServer`` on 127.0.0.1 in a thread, so the OpenAI SDK talks to it
over a real socket: timeouts, cut-off bodies and dropped connections are the real thing.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.models.completions import completion

Behaviour = Callable[[BaseHTTPRequestHandler], None]
"""What the server does with one request."""

ANSWER = "FHA loans are insured by the Federal Housing Administration."
"""What the healthy endpoint says."""


def answer(content: str = ANSWER) -> Behaviour:
    """A healthy completion."""
    return body(200, json.dumps(completion(content)).encode())


def calls(*tool_calls: tuple[str, str]) -> Behaviour:
    """A healthy completion calling tools, given as (name, raw arguments) pairs."""
    made = [
        {"id": f"call_{i}", "type": "function", "function": {"name": name, "arguments": args}}
        for i, (name, args) in enumerate(tool_calls)
    ]
    return body(200, json.dumps(completion(None, made, "tool_calls")).encode())


def status(code: int, headers: dict[str, str] | None = None) -> Behaviour:
    """An error status in the OpenAI error shape."""
    error = {"error": {"message": "failed", "type": "server_error", "code": None}}
    return body(code, json.dumps(error).encode(), headers=headers)


def body(
    code: int,
    content: bytes,
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
) -> Behaviour:
    """Any status and body, such as a proxy's HTML page or JSON that stops halfway."""

    def send(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(code)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(content)))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(content)

    return send


def cut_off() -> Behaviour:
    """Promise a whole completion, send half of it, and close the connection."""
    content = json.dumps(completion()).encode()

    def send(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(content)))
        handler.end_headers()
        handler.wfile.write(content[: len(content) // 2])
        handler.close_connection = True

    return send


def drop() -> Behaviour:
    """Close the connection without answering at all."""

    def close(handler: BaseHTTPRequestHandler) -> None:
        handler.close_connection = True

    return close


def hang(release: threading.Event) -> Behaviour:
    """Answer nothing until the test ends (or ten seconds pass), long past any client timeout."""

    def wait(handler: BaseHTTPRequestHandler) -> None:
        release.wait(timeout=10)
        handler.close_connection = True

    return wait


class ChatServer:
    """The misbehaving endpoint; ``script`` is consumed one behaviour per request."""

    def __init__(self) -> None:
        """Bind to a free port on 127.0.0.1; :meth:`start` serves."""
        self.script: list[Behaviour] = []
        self.default: Behaviour = answer()
        self.requests: list[dict[str, Any]] = []
        self.release = threading.Event()
        self._lock = threading.Lock()
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._http.daemon_threads = True
        # A short poll, so stop() returns at once rather than after the default half second.
        self._thread = threading.Thread(
            target=self._http.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def base_url(self) -> str:
        """The endpoint root to configure, ``http://127.0.0.1:<port>/v1``."""
        host, port = self._http.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def play(self, *behaviours: Behaviour) -> None:
        """Answer the next requests with ``behaviours``, then with ``default``."""
        with self._lock:
            self.script.extend(behaviours)

    def next_behaviour(self, request: dict[str, Any]) -> Behaviour:
        """Record a request and take the behaviour for it."""
        with self._lock:
            self.requests.append(request)
            return self.script.pop(0) if self.script else self.default

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread.start()

    def stop(self) -> None:
        """Let hanging requests go, stop serving and close the socket."""
        self.release.set()
        self._http.shutdown()
        self._http.server_close()
        self._thread.join(timeout=5)


def _handler_for(server: ChatServer) -> type[BaseHTTPRequestHandler]:
    """A request handler class that plays ``server``'s script."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            request = json.loads(self.rfile.read(length) or b"{}")
            server.next_behaviour(request)(self)

        def log_message(self, format: str, *args: Any) -> None:
            """Keep the test output quiet."""

    return Handler
