"""A test's own MQTT client: publishes like anyone can, and records what crosses the bus."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import paho.mqtt.client as mqtt


@dataclass(frozen=True)
class Seen:
    topic: str
    payload: bytes
    retained: bool
    at: float

    @property
    def text(self) -> str:
        return self.payload.decode()


class Probe:
    def __init__(
        self,
        host: str,
        port: int,
        subscribe: str = "#",
        username: str | None = None,
        password: str | None = None,
        tls: dict[str, str] | None = None,
    ) -> None:
        """tls: paho's tls_set arguments (ca_certs, certfile, keyfile)."""
        self.seen: list[Seen] = []
        self._cond = threading.Condition()
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
        if username is not None:
            self._client.username_pw_set(username, password)
        if tls is not None:
            self._client.tls_set(
                ca_certs=tls.get("ca_certs"),
                certfile=tls.get("certfile"),
                keyfile=tls.get("keyfile"),
            )
        self._client.on_message = self._on_message
        self._subscribe = subscribe
        self._subscribed = threading.Event()
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = lambda *_: self._subscribed.set()
        self._client.connect(host, port)
        self._client.loop_start()
        # The broker's SUBACK: from then on every message the test causes is seen.
        if not self._subscribed.wait(10):
            raise TimeoutError("probe could not connect and subscribe")

    def _on_connect(self, client: mqtt.Client, *_: object) -> None:
        client.subscribe(self._subscribe, 1)

    def _on_message(self, _c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
        with self._cond:
            self.seen.append(
                Seen(msg.topic, bytes(msg.payload), bool(msg.retain), time.monotonic())
            )
            self._cond.notify_all()

    def publish(self, topic: str, payload: str | bytes, retain: bool = False) -> None:
        self._client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)

    def publish_heard(self, topic: str, payload: str | bytes, retain: bool = False) -> float:
        """Publishes, and returns once the broker has handed this probe its own message
        back: the time after it. That echo is not marked retained, so a test that waits for
        someone else's live message on the topic waits from this time on (the probe must
        subscribe to the topic)."""
        sent = payload.encode() if isinstance(payload, str) else payload
        self.publish(topic, sent, retain)
        self.wait_for(topic, lambda s: s.payload == sent)
        return time.monotonic()

    def wait_for(
        self,
        topic: str,
        predicate: Callable[[Seen], bool] = lambda _s: True,
        timeout: float = 15.0,
        after: float = 0.0,
    ) -> Seen:
        """The first message on topic (seen at or after `after`) for which predicate holds."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for seen in self.seen:
                    if seen.topic == topic and seen.at >= after and predicate(seen):
                        return seen
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    topics = sorted({s.topic for s in self.seen})
                    raise TimeoutError(f"no matching message on {topic}; saw topics {topics}")
                self._cond.wait(remaining)

    def messages(self, topic: str) -> list[Seen]:
        with self._cond:
            return [s for s in self.seen if s.topic == topic]

    def close(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()
