"""The MQTT bus as services see it: typed subscribe/publish over shared.mqtt's client.

- availability: `online` (retained) on every connect, `offline` by last will
  and on clean shutdown;
- reconnects with exponential backoff and re-subscribes;
- every payload is decoded before a handler sees it; one that does not decode
  is logged with the reason and dropped, never raised, never acted on;
- handlers run on the service loop thread, not on the client's.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from pydantic import BaseModel

from shared.channels import Channel
from shared.config.model import Mqtt
from shared.logs import Log
from shared.messages.base import PayloadError
from shared.messages.decoding import model_decoder, text_decoder
from shared.mqtt.client import Callbacks, Client
from shared.mqtt.packets import Publish, Will
from shared.mqtt.topic_filter import matches
from shared.runtime import ServiceLoop
from shared.topics import OFFLINE, ONLINE, ServiceName, Topics

__all__ = ["Bus", "Received", "model_decoder", "text_decoder"]

T = TypeVar("T")
P = TypeVar("P", bound=BaseModel | str)


@dataclass(frozen=True)
class Received(Generic[T]):
    topic: str
    value: T
    # True when the broker delivered a stored retained message (e.g. on subscribe).
    retained: bool

    def seen_at(self, now: float) -> float:
        """When the reading was taken, as far as staleness goes: now, or for a retained
        one, kept by the broker maybe for hours, as old as its sender says at least."""
        sent = getattr(self.value, "ts", None)
        return min(now, sent) if self.retained and isinstance(sent, int | float) else now


@dataclass
class _Subscription:
    topic_filter: str
    decode: Callable[[bytes], object]
    handler: Callable[[Received[object]], None]
    qos: int
    # Set for a host's own topic: a message that names another host goes here, not on.
    own_host: str | None = None
    on_other_host: Callable[[Received[object]], None] | None = None


class Bus:
    def __init__(
        self,
        config: Mqtt,
        topics: Topics,
        service: ServiceName,
        loop: ServiceLoop,
        log: Log,
    ) -> None:
        self._config = config
        self._loop = loop
        self._log = log
        self._topics = topics
        self._subscriptions: list[_Subscription] = []
        self._on_connect: list[Callable[[], None]] = []
        self.availability_topic = topics.availability(service)
        self._client = Client(
            f"warden-{service}-{topics.host}-{os.getpid()}",
            Callbacks(
                connected=self._handle_connect,
                refused=self._handle_refused,
                disconnected=self._handle_disconnect,
                message=self._handle_message,
            ),
            log,
            keepalive=config.keepalive_seconds,
            reconnect_min=config.reconnect_min_seconds,
            reconnect_max=config.reconnect_max_seconds,
            will=Will(self.availability_topic, OFFLINE.encode(), qos=1, retain=True),
            username=config.username,
            password=config.password if config.username else None,
        )

    @property
    def connected(self) -> bool:
        return self._client.connected

    # --- wiring -------------------------------------------------------------

    def subscribe(
        self,
        topic_filter: str,
        decode: Callable[[bytes], T],
        handler: Callable[[Received[T]], None],
        qos: int = 1,
    ) -> None:
        sub = _Subscription(topic_filter, decode, handler, qos)  # type: ignore[arg-type]
        self._subscriptions.append(sub)
        if self.connected:
            self._client.subscribe(topic_filter, qos)

    def listen(
        self,
        channel: Channel[P],
        handler: Callable[[Received[P]], None],
        *,
        on_other_host: Callable[[Received[P]], None] | None = None,
        **levels: str,
    ) -> None:
        """Subscribe to a channel of the table, decoded as the table says. On a host's own
        topic, a message whose `host` names another is dropped and logged (or handed to
        on_other_host), never to the handler. levels fill the topic's other levels;
        host="+" listens to every host, and then each handler sees every host."""
        topic = channel.topic_for(self._topics, **levels)
        own = self._topics.host if channel.scope == "host" and "host" not in levels else None
        sub = _Subscription(topic, channel.decoder(), handler, 1, own, on_other_host)  # type: ignore[arg-type]
        self._subscriptions.append(sub)
        if self.connected:
            self._client.subscribe(topic, sub.qos)

    def send(self, channel: Channel[P], payload: P, **levels: str) -> None:
        """Publish on a channel of the table: retained when the table says so."""
        self.publish(channel.topic_for(self._topics, **levels), payload, retain=channel.retained)

    def on_connect(self, fn: Callable[[], None]) -> None:
        """fn runs on the service loop after every (re)connect, once subscriptions are sent."""
        self._on_connect.append(fn)

    def start(self) -> None:
        self._log.info("bus.connecting", broker=f"{self._config.broker_host}:{self._config.port}")
        self._client.start(self._config.broker_host, self._config.port)

    def stop(self, timeout: float = 3.0) -> None:
        """Clean shutdown: say `offline` ourselves, since a clean disconnect sends no will."""
        if self.connected:
            self._client.publish(self.availability_topic, OFFLINE.encode(), 1, True).wait(timeout)
        self._client.stop(timeout)

    # --- publishing ---------------------------------------------------------

    def publish(
        self, topic: str, payload: BaseModel | str | bytes, retain: bool = False, qos: int = 1
    ) -> None:
        if isinstance(payload, BaseModel):
            data = payload.model_dump_json(exclude_none=False).encode()
        else:
            data = payload.encode() if isinstance(payload, str) else payload
        if not self._client.publish(topic, data, qos, retain).sent:
            # The client keeps QoS 1 messages and sends them after the next connect.
            self._log.debug("bus.publish_queued", topic=topic, qos=qos)

    # --- the client's callbacks (its thread) ---------------------------------

    def _handle_connect(self) -> None:
        for sub in self._subscriptions:
            self._client.subscribe(sub.topic_filter, sub.qos)
        # After the subscriptions: the broker handles one connection's packets in
        # order, so whoever sees `online` can be sure we are listening.
        self._client.publish(self.availability_topic, ONLINE.encode(), 1, True)
        self._log.info("bus.connected", subscriptions=len(self._subscriptions))
        for fn in self._on_connect:
            self._loop.post(fn)

    def _handle_refused(self, reason: str) -> None:
        self._log.warning("bus.connect_refused", reason=reason)

    def _handle_disconnect(self, reason: str) -> None:
        self._log.warning("bus.disconnected", reason=reason)

    def _handle_message(self, msg: Publish) -> None:
        for handler, received in self.deliveries(msg.topic, msg.payload, msg.retain):
            self._loop.post(handler, received)

    def deliveries(
        self, topic: str, payload: bytes, retained: bool
    ) -> list[tuple[Callable[[Received[object]], None], Received[object]]]:
        """The handler calls one message makes: one per matching subscription whose decoder
        accepts it. What no decoder accepts is logged and dropped here."""
        calls: list[tuple[Callable[[Received[object]], None], Received[object]]] = []
        for sub in self._subscriptions:
            if not matches(sub.topic_filter, topic):
                continue
            try:
                value = sub.decode(payload)
            except PayloadError as exc:
                self._log.warning("bus.payload_dropped", topic=topic, reason=str(exc))
                continue
            except Exception as exc:  # a decoder bug must not kill the client's thread
                self._log.warning("bus.payload_dropped", topic=topic, reason=repr(exc))
                continue
            received = Received(topic, value, retained)
            host = getattr(value, "host", None)
            if sub.own_host is not None and isinstance(host, str) and host != sub.own_host:
                if sub.on_other_host is not None:
                    calls.append((sub.on_other_host, received))
                else:
                    reason = f"for host {host!r}, this is {sub.own_host!r}"
                    self._log.warning("bus.payload_dropped", topic=topic, reason=reason)
                continue
            calls.append((sub.handler, received))
        return calls
