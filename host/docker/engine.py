"""The few Docker Engine API calls Warden makes, over HTTP/1.1 on its socket (wire.py).

The Docker SDK brings requests, urllib3 and charset_normalizer into every process that
imports it: about 7 MB of RSS per service for a handful of calls on a unix socket. This
adapter makes those calls itself and validates what it reads with pydantic, so a reply
that is not what the API documents is an EngineError naming the call, not a KeyError later.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from pydantic import BaseModel, ConfigDict, ValidationError

from host.docker.wire import Response, WireError, request

# Docker 20.10's API. A fixed version, not negotiated: a host without Docker must be able
# to build a client that fails only when used.
API_VERSION = "1.41"


class EngineError(Exception):
    """The engine could not be reached, refused the call, or answered nonsense."""


class NotFound(EngineError):
    """No such container (404)."""


class _Reply(BaseModel):
    # Docker adds fields between versions; Warden reads the ones it names.
    model_config = ConfigDict(extra="ignore", frozen=True)


class Mount(_Reply):
    Source: str = ""


class ContainerSummary(_Reply):
    Id: str
    Names: list[str] | None = None
    State: str = "unknown"
    Mounts: list[Mount] | None = None


class ContainerState(_Reply):
    Pid: int = 0
    Paused: bool = False
    StartedAt: str = ""


class HostConfig(_Reply):
    CpuShares: int | None = None
    Memory: int | None = None
    MemorySwap: int | None = None


class ContainerDetails(_Reply):
    Id: str
    State: ContainerState
    HostConfig: HostConfig


class EngineInfo(_Reply):
    DockerRootDir: str | None = None


class EventActor(_Reply):
    ID: str = ""
    Attributes: dict[str, str] | None = None


class EngineEvent(_Reply):
    Type: str = ""
    Action: str = ""
    Actor: EventActor = EventActor()


class DockerEngine:
    """One connection per call: calls come from several threads (the loop, the restart
    pool, the event watcher), and a unix-socket connect costs microseconds."""

    def __init__(self, url: str, timeout: float | None = 10) -> None:
        parts = urlsplit(url)
        self._unix: str | None = parts.path if parts.scheme == "unix" else None
        self._tcp: tuple[str, int] | None = None
        if parts.scheme in ("tcp", "http") and parts.hostname:
            with contextlib.suppress(ValueError):  # a port that is not one: a bad url
                self._tcp = (parts.hostname, parts.port or 2375)
        # Said on every call rather than at construction: a service starts without Docker.
        self._bad_url = None
        if self._unix is None and self._tcp is None:
            self._bad_url = f"docker_url {url!r}: expected unix:///path or tcp://host:port"
        self.url = url
        self.timeout = timeout
        self._streams: set[socket.socket] = set()
        self._lock = threading.Lock()

    def _connection(self, timeout: float | None) -> socket.socket:
        if self._tcp is not None:
            return socket.create_connection(self._tcp, timeout)
        assert self._unix is not None  # else _bad_url
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(self._unix)
        except OSError:
            sock.close()
            raise
        return sock

    def _send(
        self,
        method: str,
        path: str,
        query: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> tuple[socket.socket, Response]:
        if self._bad_url:
            raise EngineError(self._bad_url)
        target = f"/v{API_VERSION}{path}" + (f"?{urlencode(query)}" if query else "")
        headers = {"Host": "docker"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        conn: socket.socket | None = None
        try:
            conn = self._connection(self.timeout if timeout is None else timeout)
            response = request(conn, method, target, headers, data)
        except (OSError, WireError) as exc:
            if conn is not None:
                conn.close()
            raise EngineError(f"{method} {path}: {exc or type(exc).__name__}") from exc
        if response.status >= 400:
            try:
                text = response.read().decode(errors="replace")
            except (OSError, WireError):
                text = ""
            finally:
                _close(conn, response)
            try:
                message = str(json.loads(text).get("message", text))
            except (ValueError, AttributeError):
                message = text
            kind = NotFound if response.status == 404 else EngineError
            raise kind(f"{method} {path}: {response.status} {message.strip()}")
        return conn, response

    def _call(self, method: str, path: str, timeout: float | None = None, **kw: Any) -> Any:
        conn, response = self._send(method, path, timeout=timeout, **kw)
        try:
            raw = response.read()
        except (OSError, WireError) as exc:
            raise EngineError(f"{method} {path}: {exc or type(exc).__name__}") from exc
        finally:
            _close(conn, response)
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise EngineError(f"{method} {path}: not JSON: {raw[:80]!r}") from exc

    def _parse(self, model: type[_Reply], value: Any, what: str) -> Any:
        try:
            return model.model_validate(value)
        except ValidationError as exc:
            raise EngineError(f"{what}: unexpected reply: {exc.errors()[0]['msg']}") from exc

    # --- the calls ----------------------------------------------------------

    def containers(self, all: bool = False) -> list[ContainerSummary]:
        raw = self._call("GET", "/containers/json", query={"all": "1" if all else "0"})
        if not isinstance(raw, list):
            raise EngineError("GET /containers/json: unexpected reply: not a list")
        return [self._parse(ContainerSummary, item, "GET /containers/json") for item in raw]

    def inspect_container(self, container: str) -> ContainerDetails:
        path = f"/containers/{quote(container, safe='')}/json"
        result: ContainerDetails = self._parse(ContainerDetails, self._call("GET", path), path)
        return result

    def info(self) -> EngineInfo:
        result: EngineInfo = self._parse(EngineInfo, self._call("GET", "/info"), "GET /info")
        return result

    def pause(self, container: str) -> None:
        self._call("POST", f"/containers/{quote(container, safe='')}/pause")

    def unpause(self, container: str) -> None:
        self._call("POST", f"/containers/{quote(container, safe='')}/unpause")

    def restart(self, container: str, timeout: int = 10) -> None:
        # The engine answers after the container's stop timeout, at worst.
        wait = None if self.timeout is None else self.timeout + timeout
        path = f"/containers/{quote(container, safe='')}/restart"
        self._call("POST", path, query={"t": str(timeout)}, timeout=wait)

    def update_container(
        self,
        container: str,
        cpu_shares: int | None = None,
        mem_limit: int | None = None,
        memswap_limit: int | None = None,
    ) -> None:
        body = {
            k: v
            for k, v in (
                ("CpuShares", cpu_shares),
                ("Memory", mem_limit),
                ("MemorySwap", memswap_limit),
            )
            if v is not None
        }
        self._call("POST", f"/containers/{quote(container, safe='')}/update", body=body)

    def events(self, filters: dict[str, str] | None = None) -> Iterator[EngineEvent]:
        """Connected on return (so nothing that happens after is missed); the iterator
        runs until the engine closes the stream or close() is called; no timeout."""
        query = {"filters": json.dumps({k: [v] for k, v in (filters or {}).items()})}
        conn, response = self._send("GET", "/events", query=query, timeout=None)
        with self._lock:
            self._streams.add(conn)
        return self._read_events(conn, response)

    def _read_events(self, conn: socket.socket, response: Response) -> Iterator[EngineEvent]:
        try:
            while True:
                try:
                    line = response.readline()
                except (OSError, WireError, ValueError) as exc:  # ValueError: closed meanwhile
                    raise EngineError(f"GET /events: {exc or type(exc).__name__}") from exc
                if not line:
                    raise EngineError("GET /events: the engine closed the stream")
                if line.strip():
                    try:
                        raw = json.loads(line)
                    except ValueError as exc:
                        raise EngineError(f"GET /events: not JSON: {line[:80]!r}") from exc
                    yield self._parse(EngineEvent, raw, "GET /events")
        finally:
            with self._lock:
                self._streams.discard(conn)
            _close(conn, response)

    def close(self) -> None:
        """Ends any event stream in progress, from any thread."""
        with self._lock:
            streams = list(self._streams)
        for conn in streams:
            with contextlib.suppress(OSError):  # already closed by the engine
                conn.shutdown(socket.SHUT_RDWR)


def _close(conn: socket.socket, response: Response) -> None:
    response.close()  # the reply's file holds the socket open too
    conn.close()


def connect(url: str, timeout: float | None = 10) -> DockerEngine:
    return DockerEngine(url, timeout)
