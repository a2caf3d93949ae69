"""The web service, in process on a real broker (for the HTTP-level tests) or as a process
(with the governor, actuator and sensors beside it, for the tests through the whole stack)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2

from services.web.service import WebService
from tests.support.broker import Mosquitto, free_port, wait_for_port
from tests.support.docker_env import Containers
from tests.support.in_process import context
from tests.support.probe import Probe
from tests.support.processes import Service, write_config


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

    def stop(self) -> None:
        self.loop.stop()
        self._thread.join(5)
        self.bus.stop()


def http_section(port: int | None = None, **extra: object) -> dict[str, object]:
    return {"http_server": {"host": "127.0.0.1", "port": port or free_port(), **extra}}


def client(port: int, token: str | None = None) -> httpx2.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    wait_for_port(port, timeout=20)
    return httpx2.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=10)


ADMIN = "admin-secret-token-1234"


def stack_config(
    tmp_path: Path, broker: Mosquitto, host_id: str, containers: Containers, port: int, **extra
) -> Path:  # type: ignore[no-untyped-def]
    return write_config(
        tmp_path / "config.yaml",
        {
            "host_id": host_id,
            "general": {"http_server": {"host": "127.0.0.1", "port": port}},
            "mqtt": {"host": broker.host, "port": broker.port},
            "tiers": {
                1: {"containers": [containers.name("db")]},
                3: {"containers": [f"{containers.prefix}-t3*"]},
            },
            "governor": {"lease_seconds": 10, "renew_seconds": 2},
            "actuator": {"state_file": str(tmp_path / "state.json"), "startup_grace_seconds": 1},
            "web": {"database": str(tmp_path / "web.sqlite3"), "admin_tokens": [ADMIN]},
            # This machine's own disk pressure is real, and under a full test run it
            # crosses ADRG's io threshold: that rule would add io.max to what is checked.
            "io_pressure": {"enabled": False},
            **extra,
        },
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
