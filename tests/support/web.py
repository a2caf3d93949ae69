"""The web service, in process on a real broker (for the HTTP-level tests) or as a process
(with the governor, actuator and sensors beside it, for the tests through the whole stack)."""

from __future__ import annotations

import re
import signal
import socket
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx2
from fastapi.testclient import TestClient

from services.web.service import WebService
from tests.support.broker import Mosquitto, free_port, wait_for_port
from tests.support.docker_env import Containers
from tests.support.in_process import context
from tests.support.probe import Probe
from tests.support.processes import Service, wait_until, write_config

LOCAL = "http://127.0.0.1:8765"


class InProcessWeb:
    """WebService with its bus on the test broker and its loop on a thread; no listener:
    tests call the app through Starlette's TestClient."""

    def __init__(self, config: Path) -> None:
        ctx = context("web", config)
        self.loop, self.bus = ctx.loop, ctx.bus
        self.service = WebService(ctx, serve=False)
        self._thread = threading.Thread(target=self.loop.run, daemon=True)

    def start(self) -> InProcessWeb:
        self.bus.start()
        self._thread.start()
        return self

    def http(self, token: str | None = None) -> TestClient:
        """The app as a client on this host reaches it: Host 127.0.0.1 (on loopback a
        foreign Host needs a token), no Origin (as curl)."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return TestClient(self.service.app, base_url=LOCAL, headers=headers)

    def stop(self) -> None:
        self.loop.stop()
        self._thread.join(5)
        self.bus.stop()


@contextmanager
def in_process_web(
    tmp_path: Path,
    broker: Mosquitto,
    host_id: str,
    web: dict[str, object] | None = None,
    **sections: object,
) -> Iterator[InProcessWeb]:
    """The web service in process on the test broker, connected, with its database in
    tmp_path; `web` adds to its web section, sections to the rest of the config."""
    cfg = write_config(
        tmp_path / "config.yaml",
        {
            "host_id": host_id,
            "mqtt": {"host": broker.host, "port": broker.port},
            "web": {"database": str(tmp_path / "web.sqlite3"), **(web or {})},
            **sections,
        },
    )
    running = InProcessWeb(cfg).start()
    try:
        wait_until(lambda: running.bus.connected, what="web connected")
        yield running
    finally:
        running.stop()


def http_section(port: int | None = None, **extra: object) -> dict[str, object]:
    return {"http_server": {"host": "127.0.0.1", "port": port or free_port(), **extra}}


def client(port: int, token: str | None = None) -> httpx2.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    wait_for_port(port, timeout=20)
    return httpx2.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=10)


ADMIN = "admin-secret-token-1234"


def web_config(
    tmp_path: Path,
    broker: Mosquitto,
    host_id: str,
    port: int,
    web: dict[str, object] | None = None,
    **extra: object,
) -> Path:
    """A config for the web service: loopback on `port`, its database beside the test."""
    return write_config(
        tmp_path / "config.yaml",
        {
            "host_id": host_id,
            "general": {"http_server": {"host": "127.0.0.1", "port": port}},
            "mqtt": {"host": broker.host, "port": broker.port},
            "web": {"database": str(tmp_path / "web.sqlite3"), **(web or {})},
            **extra,
        },
    )


def stack_config(
    tmp_path: Path,
    broker: Mosquitto,
    host_id: str,
    containers: Containers,
    port: int,
    **extra: object,
) -> Path:
    """The web service's config with tiers, a governor and an actuator, and an admin token."""
    return web_config(
        tmp_path,
        broker,
        host_id,
        port,
        {"admin_tokens": [ADMIN]},
        tiers={
            1: {"containers": [containers.name("db")]},
            3: {"containers": [f"{containers.prefix}-t3*"]},
        },
        governor={"lease_seconds": 10, "renew_seconds": 2},
        actuator={"state_file": str(tmp_path / "state.json"), "startup_grace_seconds": 1},
        # This machine's own disk pressure is real, and under a full test run it
        # crosses ADRG's io threshold: that rule would add io.max to what is checked.
        io_pressure={"enabled": False},
        **extra,
    )


@contextmanager
def running(cfg: Path, tmp_path: Path, probe: Probe, host_id: str, *names: str) -> Iterator[dict]:
    services = {name: Service(name, cfg, tmp_path) for name in names}
    try:
        for name in names:
            probe.wait_for(f"warden/{host_id}/{name}/availability", lambda s: s.text == "online")
        yield services
    finally:
        for service in services.values():
            service.kill(signal.SIGTERM)


@dataclass(frozen=True)
class WholeStack:
    cfg: Path
    services: dict[str, Service]  # a test may put a restarted one in; the last is stopped
    http: httpx2.Client


@contextmanager
def whole_stack(
    tmp_path: Path, broker: Mosquitto, probe: Probe, containers: Containers, host_id: str
) -> Iterator[WholeStack]:
    """The sensors, governor, actuator and web service on stack_config, once the web
    service's /status lists the t3 container the test started."""
    port = free_port()
    cfg = stack_config(tmp_path, broker, host_id, containers, port)
    names = ("sensors", "governor", "actuator", "web")
    with running(cfg, tmp_path, probe, host_id, *names) as services, client(port) as http:
        t3_name = containers.name("t3")
        wait_until(lambda: t3_name in http.get("/status").json()["containers"], what="inventory")
        yield WholeStack(cfg, services, http)


@dataclass(frozen=True)
class RawAnswer:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes


def raw_http(
    port: int,
    method: str,
    path: str,
    headers: Sequence[tuple[bytes, bytes]] = (),
    body: bytes | Iterator[bytes] = b"",
    head_only: bool = False,
) -> RawAnswer:
    """One request on a socket of its own, headers exactly as given (any bytes: what no
    HTTP library will send), Host 127.0.0.1:port unless given. body: bytes with their
    Content-Length, or chunks sent chunked while the answer is read, so a server that
    answers before reading it all is seen to. head_only: the status and headers, not the
    body (a stream never ends)."""
    sent = [name.lower() for name, _ in headers]
    lines = [f"{method} {path} HTTP/1.1".encode()]
    if b"host" not in sent:
        lines.append(b"Host: 127.0.0.1:%d" % port)
    lines += [name + b": " + value for name, value in headers]
    if not isinstance(body, bytes):
        lines.append(b"Transfer-Encoding: chunked")
    elif b"content-length" not in sent:
        lines.append(b"Content-Length: %d" % len(body))
    lines.append(b"Connection: close")
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(b"\r\n".join(lines) + b"\r\n\r\n")

    def send_body() -> None:
        try:
            if isinstance(body, bytes):
                sock.sendall(body)
                return
            for chunk in body:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sock.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server answered and stopped reading: that is allowed

    sender = threading.Thread(target=send_body, daemon=True)
    sender.start()
    data = b""
    with sock:
        while True:
            if head_only and b"\r\n\r\n" in data:
                break
            try:
                got = sock.recv(65536)
            except OSError:
                break
            if not got:
                break
            data += got
    sender.join(60)
    head, _, rest = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    found = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        found[name.strip().lower()] = value.strip()
    return RawAnswer(int(status_line.split()[1]), found, rest)


def rss_bytes(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^VmRSS:\s+(\d+) kB", status, re.M).group(1)) * 1024  # type: ignore[union-attr]
