"""Local HTTP servers that record requests, standing in for ntfy, Discord, Gotify and the like.

Capture answers every POST the same way; Scripted answers each with the next
scripted Reply (status, headers, delay), for delivery that fails, times out and
is rate-limited.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class Capture:
    def __init__(self, status: int = 200, body: bytes = b"") -> None:
        self.requests: list[Request] = []
        self.status = status
        self.body = body
        capture = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                capture.requests.append(Request("POST", self.path, dict(self.headers), body))
                self.send_response(capture.status)
                self.send_header("Content-Length", str(len(capture.body)))
                self.end_headers()
                self.wfile.write(capture.body)

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def to(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path.split("?")[0] == path]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass(frozen=True)
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass(frozen=True)
class Hit:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    status: int


class Scripted:
    """Answers each request with the next scripted Reply (then `then`), recording all."""

    def __init__(self, *script: Reply, then: Reply | None = None) -> None:
        self.script = list(script)
        self.then = then or Reply()
        # A fixed answer per path, before the script: one server playing several services.
        self.by_path: dict[str, Reply] = {}
        self.hits: list[Hit] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with server._lock:
                    reply = server.by_path.get(self.path) or (
                        server.script.pop(0) if server.script else server.then
                    )
                    hit = Hit(self.path, dict(self.headers), body, time.monotonic(), reply.status)
                    server.hits.append(hit)
                if reply.delay:
                    time.sleep(reply.delay)  # the server being slow, not the test waiting
                try:
                    self.send_response(reply.status)
                    for key, value in reply.headers.items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    pass  # the client gave up waiting

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def delivered(self) -> list[Hit]:
        with self._lock:
            return [h for h in self.hits if h.status < 300]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
