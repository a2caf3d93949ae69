"""Local HTTP servers that record requests, standing in for ntfy, Discord, Gotify and the like.

Capture answers every POST the same way; Scripted answers each with the next
scripted Reply (status, headers, delay), for delivery that fails, times out and
is rate-limited. Given a TLS context (tests/support/fake_https.py), either also
acts as an HTTPS proxy that ends the tunnel itself: a CONNECT to any host is
answered, TLS is spoken with the context's certificate, and the requests inside
are answered and recorded as the plain ones are.
"""

from __future__ import annotations

import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Handler(BaseHTTPRequestHandler):
    tls: ssl.SSLContext | None = None

    def do_CONNECT(self) -> None:
        if self.tls is None:
            self.send_error(405)
            return
        self.send_response(200, "Connection established")
        self.end_headers()
        self.wfile.flush()
        # The same connection goes on as TLS: the next requests are read from inside it.
        try:
            self.connection = self.tls.wrap_socket(self.connection, server_side=True)
        except (ssl.SSLError, OSError):
            # A client that refuses the certificate (one for another host): it hangs up.
            self.close_connection = True
            return
        self.rfile = self.connection.makefile("rb")
        self.wfile = self.connection.makefile("wb", buffering=0)
        self.close_connection = False

    def log_message(self, *_args: object) -> None:
        pass


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class Capture:
    def __init__(
        self, status: int = 200, body: bytes = b"", tls: ssl.SSLContext | None = None
    ) -> None:
        self.requests: list[Request] = []
        self.status = status
        self.body = body
        capture = self

        class Handler(_Handler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                capture.requests.append(Request("POST", self.path, dict(self.headers), body))
                self.send_response(capture.status)
                self.send_header("Content-Length", str(len(capture.body)))
                self.end_headers()
                self.wfile.write(capture.body)

        Handler.tls = tls
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
    body: bytes = b""


@dataclass(frozen=True)
class Hit:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    status: int


class Scripted:
    """Answers each request with the next scripted Reply (then `then`), recording all."""

    def __init__(
        self, *script: Reply, then: Reply | None = None, tls: ssl.SSLContext | None = None
    ) -> None:
        self.script = list(script)
        self.then = then or Reply()
        # A fixed answer per path, before the script: one server playing several services.
        self.by_path: dict[str, Reply] = {}
        self.hits: list[Hit] = []
        self._lock = threading.Lock()
        server = self

        class Handler(_Handler):
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
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except OSError:
                    pass  # the client gave up waiting

        Handler.tls = tls
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
