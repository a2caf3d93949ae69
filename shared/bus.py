"""The MQTT bus as services see it: typed subscribe/publish over paho-mqtt 2.x.

- availability: `online` (retained) on every connect, `offline` by last will
  and on clean shutdown;
- reconnects with exponential backoff (paho's loop) and re-subscribes;
- every payload is decoded before a handler sees it; one that does not decode
  is logged with the reason and dropped, never raised, never acted on;
- handlers run on the service loop thread, not on paho's.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import paho.mqtt.client as mqtt
from pydantic import BaseModel

from shared.channels import Channel
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
        self.availability_topic = topics.availability(service)
        self.connected = False

        client_id = f"warden-{service}-{topics.host}-{os.getpid()}"
        self._client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311
        )
        if config.username:
            self._client.username_pw_set(config.username, config.password)
        self._client.will_set(self.availability_topic, OFFLINE, qos=1, retain=True)
        # paho annotates ints but sleeps on floats: sub-second backoff is what tests use.
        self._client.reconnect_delay_set(
            config.reconnect_min_seconds,  # type: ignore[arg-type]
            config.reconnect_max_seconds,  # type: ignore[arg-type]
        )
        self._client.on_connect = self._handle_connect
        self._client.on_socket_open = _no_delay
        self._client.on_disconnect = self._handle_disconnect
        self._client.on_message = self._handle_message

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
        self._client.connect_async(
            self._config.broker_host, self._config.port, self._config.keepalive_seconds
        )
        self._client.loop_start()

    def stop(self, timeout: float = 3.0) -> None:
        """Clean shutdown: say `offline` ourselves, since a clean disconnect sends no will."""
        if self.connected:
            info = self._client.publish(self.availability_topic, OFFLINE, qos=1, retain=True)
            with contextlib.suppress(RuntimeError, ValueError):
                info.wait_for_publish(timeout)
        self._client.disconnect()
        self._client.loop_stop()

    # --- publishing ---------------------------------------------------------

    def publish(
        self, topic: str, payload: BaseModel | str | bytes, retain: bool = False, qos: int = 1
    ) -> None:
        if isinstance(payload, BaseModel):
            data: str | bytes = payload.model_dump_json(exclude_none=False)
        else:
            data = payload
        result = self._client.publish(topic, data, qos=qos, retain=retain)
        if result.rc != mqtt.MQTT_ERR_SUCCESS:
            # paho keeps QoS>0 messages queued and sends them after reconnect.
            self._log.debug("bus.publish_queued", topic=topic, rc=mqtt.error_string(result.rc))

    # --- paho callbacks (paho's thread) -------------------------------------

    def _handle_connect(self, client, _userdata, _flags, reason_code, _properties) -> None:
        if reason_code.is_failure:
            self._log.warning("bus.connect_refused", reason=str(reason_code))
            return
        self.connected = True
        for sub in self._subscriptions:
            client.subscribe(sub.topic_filter, sub.qos)
        # After the subscriptions: the broker handles one connection's packets in
        # order, so whoever sees `online` can be sure we are listening.
        client.publish(self.availability_topic, ONLINE, qos=1, retain=True)
        self._log.info("bus.connected", subscriptions=len(self._subscriptions))
        for fn in self._on_connect:
            self._loop.post(fn)

    def _handle_disconnect(self, _client, _userdata, _flags, reason_code, _properties) -> None:
        was_connected = self.connected
        self.connected = False
        if was_connected:
            self._log.warning("bus.disconnected", reason=str(reason_code))

    def _handle_message(self, _client, _userdata, msg: mqtt.MQTTMessage) -> None:
        for handler, received in self.deliveries(msg.topic, bytes(msg.payload), bool(msg.retain)):
            self._loop.post(handler, received)

    def deliveries(
        self, topic: str, payload: bytes, retained: bool
    ) -> list[tuple[Callable[[Received[object]], None], Received[object]]]:
        """The handler calls one message makes: one per matching subscription whose decoder
        accepts it. What no decoder accepts is logged and dropped here."""
        calls: list[tuple[Callable[[Received[object]], None], Received[object]]] = []
        for sub in self._subscriptions:
            if not mqtt.topic_matches_sub(sub.topic_filter, topic):
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


def _no_delay(_client: object, _userdata: object, sock: object) -> None:
    """Small messages go out at once: with Nagle's algorithm, a publish right after another
    waits for the broker's delayed ACK, about 40 ms, on the path from trigger to pause."""
    with contextlib.suppress(OSError, AttributeError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # type: ignore[attr-defined]
