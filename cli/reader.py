"""One look at a host's retained topics, and a trigger sent: a short-lived bus client with
no last will (it is no service), on the config's broker and login."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from paho.mqtt.client import topic_matches_sub

from shared import channels
from shared.broker_link import BrokerLink, LinkCallbacks
from shared.channel import Channel
from shared.config.mqtt import Mqtt
from shared.logs import Log
from shared.messages.base import PayloadError
from shared.topics import Topics

# What `status` and `why` read: each retained.
READ: dict[str, Channel[Any]] = {
    "desired": channels.DESIRED,
    "applied": channels.APPLIED,
    "inventory": channels.CONTAINERS,
    "memory": channels.GOVERNOR_MEMORY,
    "catalogue": channels.RULES,
    "decision": channels.DECISION,
    "overrides": channels.OVERRIDES,
    "preset": channels.PRESET,
    "pressure": channels.PRESSURE,
    "thermal": channels.THERMAL,
    "streams": channels.STREAMS,
    "resources": channels.RESOURCES,
    "incidents": channels.INCIDENTS,
}
# After the broker has sent the retained messages it holds, nothing more comes this long.
QUIET_SECONDS = 0.5


class Unreachable(Exception):
    pass


@dataclass
class Snapshot:
    """The host's retained state as the broker holds it now; None: never published."""

    host: str
    values: dict[str, Any] = field(default_factory=dict)
    availability: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def get(self, name: str) -> Any:
        return self.values.get(name)


class Client:
    def __init__(self, mqtt: Mqtt, topics: Topics, log: Log) -> None:
        self.topics = topics
        self._connected = threading.Event()
        self._last = time.monotonic()
        self._handlers: list[tuple[str, Any]] = []
        self._link = BrokerLink(
            mqtt,
            f"warden-cli-{topics.host}-{os.getpid()}",
            None,
            LinkCallbacks(connected=self._connected.set, message=self._message),
            log,
        )
        self.url = mqtt.broker_url

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self._link.stop(None, 2)

    def connect(self, timeout: float) -> None:
        self._link.start()
        if not self._connected.wait(timeout):
            raise Unreachable(f"cannot reach the broker at {self.url} within {timeout:g} s")

    def _message(self, topic: str, payload: bytes, _retained: bool) -> None:
        self._last = time.monotonic()
        for topic_filter, handler in self._handlers:
            if topic_matches_sub(topic_filter, topic):
                handler(topic, payload)

    def snapshot(self, host: str, timeout: float) -> Snapshot:
        """Every retained message of the host's READ channels, and its services' word."""
        snap = Snapshot(host)
        lock = threading.Lock()

        def keep(name: str, channel: Channel[Any]) -> Any:
            decode = channel.decoder()

            def handler(topic: str, payload: bytes) -> None:
                try:
                    value = decode(payload)
                except PayloadError as exc:
                    with lock:
                        snap.problems.append(f"{topic}: {exc}")
                    return
                with lock:
                    snap.values[name] = value

            return handler

        for name, channel in READ.items():
            self._listen(channel.topic_for(self.topics, host=host), keep(name, channel))
        service_topic = channels.AVAILABILITY.topic_for(self.topics, host=host, service="+")

        def availability(topic: str, payload: bytes) -> None:
            with lock:
                snap.availability[topic.split("/")[-2]] = payload.decode(errors="replace")

        self._listen(service_topic, availability)
        self._last = time.monotonic()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and time.monotonic() - self._last < QUIET_SECONDS:
            time.sleep(0.05)
        with lock:
            return Snapshot(host, dict(snap.values), dict(snap.availability), list(snap.problems))

    def _listen(self, topic_filter: str, handler: Any) -> None:
        self._handlers.append((topic_filter, handler))
        self._link.subscribe(topic_filter, 1)

    def send(self, topic: str, payload: bytes, timeout: float) -> None:
        if not self._link.publish_wait(topic, payload, timeout):
            raise Unreachable(f"the broker at {self.url} did not take {topic} in {timeout:g} s")
