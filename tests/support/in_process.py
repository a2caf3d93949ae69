"""Warden's services built inside the test process.

- build(): on a bus that is never started, for tests that need no broker at all (what a
  service subscribes to, a handler driven with one crafted call): what the service
  publishes is recorded, and the loop's timers never run.
- live(): on a real broker, its loop running, every message sent through the broker and
  waited for until the service has handled it (the fuzz tests).
"""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from shared.bus import Bus
from shared.config import load_config
from shared.logs import Log
from shared.runtime import ServiceLoop
from shared.service import ServiceContext, keyring_or_exit
from shared.topics import ServiceName, Topics
from tests.support.probe import Probe


@dataclass
class Published:
    topic: str
    payload: BaseModel | str | bytes
    retain: bool


class RecordingBus(Bus):
    """The real Bus (subscriptions, decoding, dispatch) with publish recorded, not sent."""

    published: list[Published]

    def publish(
        self, topic: str, payload: BaseModel | str | bytes, retain: bool = False, qos: int = 1
    ) -> None:
        self.published.append(Published(topic, payload, retain))


@dataclass
class InProcess:
    name: ServiceName
    service: object
    ctx: ServiceContext
    bus: RecordingBus
    published: list[Published] = field(default_factory=list)

    def deliver(self, topic: str, payload: bytes, retained: bool = False) -> int:
        """What the bus does with one message, handlers run here; returns how many ran."""
        calls = self.bus.deliveries(topic, payload, retained)
        for handler, received in calls:
            handler(received)
        return len(calls)

    def stop(self) -> None:
        self.ctx.loop.stop()
        self.ctx.loop.run()  # runs nothing but the service's on_stop callbacks


def context(name: ServiceName, config: Path, bus_type: type[Bus] = Bus) -> ServiceContext:
    """What shared.service.run_service hands a service, without starting the bus or loop."""
    loaded = load_config(config)
    cfg = loaded.config
    log = Log(f"test.{name}")
    loop = ServiceLoop(log)
    topics = Topics(cfg.mqtt.topic_root, cfg.host_id)
    bus = bus_type(cfg.mqtt, topics, name, loop, log)
    args = argparse.Namespace(dry_run=False)
    return ServiceContext(name, loaded, args, topics, bus, loop, log, keyring_or_exit(name, cfg))


def build(name: ServiceName, config: Path, make: Callable[[ServiceContext], object]) -> InProcess:
    ctx = context(name, config, RecordingBus)
    bus = ctx.bus
    assert isinstance(bus, RecordingBus)
    bus.published = []
    return InProcess(name, make(ctx), ctx, bus, bus.published)


class WatchedBus(Bus):
    """The real Bus, connected to a real broker, watched: what it publishes is recorded
    as it is sent, and each message it has dispatched is noted once its handlers ran, so a
    test knows when what it sent through the broker has been handled."""

    published: list[Published]
    handled: list[tuple[str, bytes]]
    changed: threading.Condition

    def publish(
        self, topic: str, payload: BaseModel | str | bytes, retain: bool = False, qos: int = 1
    ) -> None:
        with self.changed:
            self.published.append(Published(topic, payload, retain))
        super().publish(topic, payload, retain, qos)

    failures: list[BaseException]

    def _handle_message(self, topic: str, payload: bytes, retained: bool) -> None:
        for handler, received in self.deliveries(topic, payload, retained):
            self._loop.post(self._run_watched, handler, received)
        # Posted after the handlers: the loop runs posts in order.
        self._loop.post(self._note_handled, topic, payload)

    def _run_watched(self, handler: Callable[[Any], None], received: Any) -> None:
        """As the loop runs a handler, with what escapes it kept for the test."""
        try:
            handler(received)
        except Exception as exc:
            with self.changed:
                self.failures.append(exc)
            raise

    def _note_handled(self, topic: str, payload: bytes) -> None:
        with self.changed:
            self.handled.append((topic, payload))
            self.changed.notify_all()


@dataclass
class LiveService:
    """A service built in the test process on a real broker, its loop on a thread."""

    service: object
    ctx: ServiceContext
    bus: WatchedBus
    sender: Probe
    thread: threading.Thread

    @property
    def published(self) -> list[Published]:
        return self.bus.published

    def send(self, topic: str, payload: bytes, timeout: float = 10.0) -> None:
        """Publish through the broker and return once the service has handled it."""
        with self.bus.changed:
            before = self.bus.handled.count((topic, payload))
        self.sender.publish(topic, payload)
        deadline = time.monotonic() + timeout
        with self.bus.changed:
            while self.bus.handled.count((topic, payload)) <= before:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"{topic}: not handled within {timeout:g} s")
                self.bus.changed.wait(remaining)
            if self.bus.failures:
                raise self.bus.failures[-1]

    def stop(self) -> None:
        self.ctx.loop.stop()
        self.thread.join(10)
        self.bus.stop()
        self.sender.close()


def live(name: ServiceName, config: Path, make: Callable[[ServiceContext], object]) -> LiveService:
    """The service on the broker its config names, connected and subscribed on return."""
    ctx = context(name, config, WatchedBus)
    bus = ctx.bus
    assert isinstance(bus, WatchedBus)
    bus.published, bus.handled, bus.failures = [], [], []
    bus.changed = threading.Condition()
    connected = threading.Event()
    bus.on_connect(connected.set)
    service = make(ctx)
    thread = threading.Thread(target=ctx.loop.run, name=f"live-{name}", daemon=True)
    bus.start()
    thread.start()
    if not connected.wait(15):
        raise TimeoutError(f"{name} did not connect to its broker")
    mqtt = ctx.config.mqtt
    return LiveService(service, ctx, bus, Probe(mqtt.broker_host, mqtt.port, "none"), thread)
