"""A scripted registry on loopback: a real ThreadingHTTPServer on 127.0.0.1, port 0, one per test.

Each test scripts what the server answers for a method and path (a sequence of replies, the last one
repeating), and reads back the requests that reached it. Slow replies wait on an event that teardown
sets, so no handler thread outlives its test.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: Any = None  # JSON-encoded unless raw is given
    raw: bytes | None = None
    delay: float = 0.0  # seconds before answering


@dataclass(frozen=True)
class SeenRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class ScriptedRegistry:
    base_url: str = ""
    requests: list[SeenRequest] = field(default_factory=list)
    _script: dict[tuple[str, str], list[Reply]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    release: threading.Event = field(default_factory=threading.Event)

    def script(self, method: str, path: str, *replies: Reply) -> None:
        with self._lock:
            self._script[(method, path)] = list(replies)

    def next_reply(self, method: str, path: str) -> Reply:
        with self._lock:
            replies = self._script.get((method, path))
            if not replies:
                return Reply(404, {"error": "unscripted"})
            return replies.pop(0) if len(replies) > 1 else replies[0]

    def record(self, seen: SeenRequest) -> None:
        with self._lock:
            self.requests.append(seen)

    @property
    def hits(self) -> int:
        with self._lock:
            return len(self.requests)


def _handler_for(registry: ScriptedRegistry) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        timeout = 5  # a client that stalls cannot pin a handler thread

        def do_GET(self) -> None:
            self._answer()

        def do_POST(self) -> None:
            self._answer()

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            registry.record(SeenRequest(self.command, self.path, dict(self.headers.items()), body))
            reply = registry.next_reply(self.command, self.path)
            if reply.delay and registry.release.wait(reply.delay):
                return  # teardown: drop the connection instead of answering
            payload = reply.raw if reply.raw is not None else json.dumps(reply.body).encode()
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except OSError:
                pass  # the client gave up (timeout): nothing to tell it

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def registry_server() -> Iterator[ScriptedRegistry]:
    registry = ScriptedRegistry()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(registry))
    server.daemon_threads = True
    host, port = server.server_address[:2]
    registry.base_url = f"http://{host!s}:{port}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield registry
    finally:
        registry.release.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def closed_port_url() -> str:
    """A loopback URL nobody listens on: connecting is refused at once."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


class FakeClock:
    """Monotonic time that moves only when a test (or a backoff sleep) moves it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
