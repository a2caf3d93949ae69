"""HTTP/1.1 as the Docker engine speaks it on its socket: one request per connection, a
reply read by Content-Length, chunked, or to the end of the stream.

http.client would do, but it imports `ssl` (and `email`) whatever it connects to: about
1.5 MB of RSS in each of the two services that talk to Docker, for a unix socket. Replies
are bounded (status line, headers, body), so a broken engine is a WireError naming what
was wrong, not unbounded memory.
"""

from __future__ import annotations

import io
import socket

MAX_LINE = 64 * 1024
MAX_HEADERS = 100
MAX_BODY = 64 * 1024 * 1024


class WireError(Exception):
    """The engine's reply is not HTTP as this client reads it."""


def request(
    sock: socket.socket,
    method: str,
    target: str,
    headers: dict[str, str],
    body: bytes | None = None,
) -> Response:
    """Send one request on a connected socket and read the reply's status and headers."""
    lines = [f"{method} {target} HTTP/1.1", *(f"{k}: {v}" for k, v in headers.items())]
    lines.append("Connection: close")
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b""))
    return Response(sock.makefile("rb"))


def _line(stream: io.BufferedReader, what: str) -> bytes:
    line = stream.readline(MAX_LINE + 1)
    if len(line) > MAX_LINE:
        raise WireError(f"{what} longer than {MAX_LINE} bytes")
    return line


class Response:
    def __init__(self, stream: io.BufferedReader) -> None:
        self._stream = stream
        status = _line(stream, "status line")
        if not status:
            raise WireError("the connection closed before a reply")
        parts = status.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
            raise WireError(f"not an HTTP status line: {status[:80]!r}")
        self.status = int(parts[1])
        self.headers: dict[str, str] = {}
        count = 0
        while (line := _line(stream, "header").rstrip(b"\r\n")) != b"":
            count += 1
            if count > MAX_HEADERS:
                raise WireError(f"over {MAX_HEADERS} headers")
            name, sep, value = line.decode("latin-1").partition(":")
            if not sep:
                raise WireError(f"not a header: {line[:80]!r}")
            self.headers[name.strip().lower()] = value.strip()
        self._chunked = "chunked" in self.headers.get("transfer-encoding", "").lower()
        length = self.headers.get("content-length")
        if length is not None and not length.isdigit():
            raise WireError(f"Content-Length {length[:20]!r} is not a number")
        self._left = int(length) if length is not None and not self._chunked else None
        self._pending = b""  # decoded body bytes read, not yet returned
        self._done = self.status in (204, 304)

    def read(self) -> bytes:
        """The whole body."""
        parts = [self._pending]
        size = len(self._pending)
        self._pending = b""
        while (piece := self._piece()) is not None:
            parts.append(piece)
            size += len(piece)
            if size > MAX_BODY:
                raise WireError(f"a body over {MAX_BODY} bytes")
        return b"".join(parts)

    def readline(self) -> bytes:
        """The body's next line, with its newline; b"" at the end."""
        while b"\n" not in self._pending:
            piece = self._piece()
            if piece is None:
                line, self._pending = self._pending, b""
                return line
            self._pending += piece
            if len(self._pending) > MAX_LINE:
                raise WireError(f"a body line longer than {MAX_LINE} bytes")
        line, _, self._pending = self._pending.partition(b"\n")
        return line + b"\n"

    def _piece(self) -> bytes | None:
        """The next piece of the body as it arrives, None at its end."""
        if self._done:
            return None
        if self._chunked:
            size_line = _line(self._stream, "chunk size")
            if not size_line:
                raise WireError("the connection closed inside the chunked body")
            size_line = size_line.split(b";")[0].strip()
            try:
                size = int(size_line, 16)
            except ValueError:
                raise WireError(f"not a chunk size: {size_line[:20]!r}") from None
            if size == 0:
                while _line(self._stream, "trailer").rstrip(b"\r\n"):
                    pass
                self._done = True
                return None
            data = self._stream.read(size)
            if len(data) < size or self._stream.read(2) != b"\r\n":
                raise WireError("the connection closed inside a chunk")
            return data
        if self._left is not None:
            if self._left == 0:
                self._done = True
                return None
            data = self._stream.read1(min(self._left, 65536))
            if not data:
                raise WireError(f"the connection closed {self._left} bytes short of the body")
            self._left -= len(data)
            return bytes(data)
        data = self._stream.read1(65536)
        if not data:
            self._done = True
            return None
        return bytes(data)

    def close(self) -> None:
        self._stream.close()
