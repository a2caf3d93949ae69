"""A TCP proxy the tests control: in front of a unix socket (Docker's) or a TCP port (a
broker's). It can go silent without closing anything (`stall`), the way a dead link or a
hung peer looks from the other end, and can cut every connection a moment after it opens
(a peer that accepts and drops at once). It counts the connections it accepted, and when."""

from __future__ import annotations

import contextlib
import socket
import threading
import time

from tests.support.broker import free_port


class SocketProxy:
    def __init__(self, unix: str | None = None, tcp: int | None = None) -> None:
        assert (unix is None) != (tcp is None)
        self._unix, self._tcp = unix, tcp
        self.port = free_port()
        self._server = socket.create_server(("127.0.0.1", self.port))
        self._stalled = threading.Event()
        self.cut_after: float | None = None
        self.accepted: list[float] = []
        self._closing = threading.Event()
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    def stall(self) -> None:
        """Forward nothing more, either way; close nothing."""
        self._stalled.set()

    def resume(self) -> None:
        self._stalled.clear()

    def close(self) -> None:
        self._closing.set()
        self._server.close()
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.close()

    def _upstream(self) -> socket.socket:
        if self._unix is not None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(self._unix)
            return sock
        return socket.create_connection(("127.0.0.1", self._tcp or 0))

    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            self.accepted.append(time.monotonic())
            try:
                upstream = self._upstream()
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()
            if self.cut_after is not None:
                threading.Timer(self.cut_after, self._cut, args=(client, upstream)).start()

    def _cut(self, *socks: socket.socket) -> None:
        for sock in socks:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                while self._stalled.is_set() and not self._closing.is_set():
                    time.sleep(0.05)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            self._cut(sink)
