"""Warden's services built inside the test process, on a bus that is never started.

For tests that drive a service's handlers directly (the bus's own decoding
included) and watch what it would publish. Nothing reaches a broker: what a
service publishes is recorded, and the loop's timers never run.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel

from shared.bus import Bus
from shared.config import load_config
from shared.logs import Log
from shared.runtime import ServiceLoop
from shared.service import ServiceContext, keyring_or_exit
from shared.topics import ServiceName, Topics


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
