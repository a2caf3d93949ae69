"""The MQTT bus as services see it: typed subscribe/publish over paho-mqtt
(shared/broker_link.py keeps the connection).

- availability: `online` (retained) on every connect, `offline` by last will
  and on clean shutdown;
- reconnects with exponential backoff and re-subscribes;
- publishing never waits on the network: paho queues, its thread sends, and a
  QoS 1 message is kept until the broker acknowledges it;
- every payload is decoded before a handler sees it; one that does not decode
  is logged with the reason and dropped, never raised, never acted on;
- handlers run on the service loop thread, not on the client's.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from paho.mqtt.client import topic_matches_sub
from pydantic import BaseModel

from shared.broker_link import BrokerLink, LinkCallbacks
from shared.channel import Channel
from shared.channels import AVAILABILITY
from shared.config.model import Mqtt
from shared.logs import Log
from shared.messages.base import PayloadError
from shared.messages.decoding import model_decoder, text_decoder
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
        self.availability_topic = AVAILABILITY.topic_for(topics, service=service)
        # Raises SetupError when the config's TLS files cannot be used.
        self._link = BrokerLink(
            config,
            f"warden-{service}-{topics.host}-{os.getpid()}",
            (self.availability_topic, OFFLINE),
            LinkCallbacks(
                connected=self._handle_connect,
                message=self._handle_message,
                lost=self._handle_lost,
            ),
            log,
        )

    @property
    def connected(self) -> bool:
        return self._link.connected

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
            self._link.subscribe(topic_filter, qos)

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
            self._link.subscribe(topic, sub.qos)

    def send(self, channel: Channel[P], payload: P, **levels: str) -> None:
        """Publish on a channel of the table: retained when the table says so."""
        self.publish(channel.topic_for(self._topics, **levels), payload, retain=channel.retained)

    def on_connect(self, fn: Callable[[], None]) -> None:
        """fn runs on the service loop after every (re)connect, once subscriptions are sent."""
        self._on_connect.append(fn)

    def start(self) -> None:
        self._link.start()

    def stop(self, timeout: float = 3.0) -> None:
        """Clean shutdown: say `offline` ourselves, since a clean disconnect sends no will."""
        self._link.stop((self.availability_topic, OFFLINE), timeout)

    # --- publishing ---------------------------------------------------------

    def publish(
        self, topic: str, payload: BaseModel | str | bytes, retain: bool = False, qos: int = 1
    ) -> None:
        if isinstance(payload, BaseModel):
            data = payload.model_dump_json(exclude_none=False).encode()
        else:
            data = payload.encode() if isinstance(payload, str) else payload
        if not self._link.publish(topic, data, qos, retain):
            # paho keeps QoS 1 messages and sends them after the next connect.
            self._log.debug("bus.publish_queued", topic=topic, qos=qos)

    # --- the link's callbacks (paho's thread) ---------------------------------

    def _handle_connect(self) -> None:
        for sub in self._subscriptions:
            self._link.subscribe(sub.topic_filter, sub.qos)
        # After the subscriptions: the broker handles one connection's packets in
        # order, so whoever sees `online` can be sure we are listening.
        self._link.publish(self.availability_topic, ONLINE.encode(), 1, True)
        self._log.info("bus.connected", subscriptions=len(self._subscriptions))
        for fn in self._on_connect:
            self._loop.post(fn)

    def _handle_lost(self, reason: str) -> None:
        self._log.warning("bus.disconnected", reason=reason)

    def _handle_message(self, topic: str, payload: bytes, retained: bool) -> None:
        for handler, received in self.deliveries(topic, payload, retained):
            self._loop.post(handler, received)

    def deliveries(
        self, topic: str, payload: bytes, retained: bool
    ) -> list[tuple[Callable[[Received[object]], None], Received[object]]]:
        """The handler calls one message makes: one per matching subscription whose decoder
        accepts it. What no decoder accepts is logged and dropped here."""
        calls: list[tuple[Callable[[Received[object]], None], Received[object]]] = []
        for sub in self._subscriptions:
            if not topic_matches_sub(sub.topic_filter, topic):
                continue
            try:
                value = sub.decode(payload)
            except PayloadError as exc:
                self._log.warning("bus.payload_dropped", topic=topic, reason=str(exc))
                continue
            except Exception as exc:  # a decoder bug must not kill paho's thread
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
