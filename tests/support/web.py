"""The web service, in process on a real broker (for the HTTP-level tests) or as a process."""

from __future__ import annotations

import argparse
import threading
from pathlib import Path

import httpx

from services.web.service import WebService
from shared.bus import Bus
from shared.config import load_config
from shared.logs import Log
from shared.runtime import ServiceLoop
from shared.service import ServiceContext
from shared.topics import Topics
from tests.support.broker import free_port, wait_for_port


class InProcessWeb:
    """WebService with its bus on the test broker and its loop on a thread; no listener:
    tests call the app through httpx's ASGI-free TestClient."""

    def __init__(self, config: Path) -> None:
        loaded = load_config(config)
        cfg = loaded.config
        log = Log("test.web")
        self.loop = ServiceLoop(log)
        topics = Topics(cfg.mqtt.topic_root, cfg.host_id)
        self.bus = Bus(cfg.mqtt, topics, "web", self.loop, log)
        ctx = ServiceContext("web", loaded, argparse.Namespace(), topics, self.bus, self.loop, log)
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


def client(port: int, token: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    wait_for_port(port, timeout=20)
    return httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=10)
