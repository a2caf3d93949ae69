"""The connection to the broker, through paho-mqtt: built from the config (TLS, WebSockets,
login, last will), kept up by paho's thread, its failures said plainly.

paho reconnects by itself; what it leaves to us:
- why a connect failed. paho calls on_connect_fail inside the `except` that caught the
  socket's or TLS's error, so the reason is the exception being handled there. The first
  failure of an outage is logged with it at once, then once a minute while it lasts.
- a broker that accepts and drops at once. paho resets its backoff on every accepted
  CONNACK, which would make that a reconnect per second forever; the backoff's floor
  doubles instead whenever a connection ends before it held for STABLE_SECONDS.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt

from shared.config.mqtt import Mqtt
from shared.errors import SetupError, brief
from shared.logs import Log

# A connection that lasted this long was a real one: the next loss starts the backoff over.
STABLE_SECONDS = 10.0
# While the broker stays out of reach, its reason is said again this often.
REPEAT_SECONDS = 60.0
# QoS 1 messages kept while the broker is away; past that a new one is refused (logged).
MAX_QUEUED = 1000


@dataclass
class Outage:
    """Connect failures since the last good connection, and when they were last said."""

    attempts: int = 0
    started: float = 0.0
    said: float = 0.0

    def failed(self, now: float) -> bool:
        """Counts one failure; True when this one should be said."""
        self.attempts += 1
        if self.attempts == 1:
            self.started = self.said = now
            return True
        if now - self.said >= REPEAT_SECONDS:
            self.said = now
            return True
        return False

    def end(self) -> int:
        """The failures the outage counted, and a clean slate."""
        attempts, self.attempts = self.attempts, 0
        return attempts


def backoff_floor(held: float, floor: float, least: float, most: float) -> float:
    """The first reconnect delay after a connection that held for `held` seconds: back to
    the least after a real connection, doubled (up to the most) after one that did not."""
    return least if held >= STABLE_SECONDS else min(max(floor, least) * 2, most)


def reason_of(exc: BaseException | None) -> str:
    """What a failed connect met, in words: refused, unreachable, a TLS error, a timeout."""
    if exc is None:
        return "unknown (paho gave no error)"
    if isinstance(exc, TimeoutError | socket.timeout):
        return "no answer (timed out)"
    return f"{type(exc).__name__}: {brief(exc)}"


@dataclass(frozen=True)
class LinkCallbacks:
    # Each runs on paho's thread.
    connected: Callable[[], None]
    message: Callable[[str, bytes, bool], None]
    lost: Callable[[str], None] = field(default=lambda _reason: None)


class BrokerLink:
    def __init__(
        self,
        config: Mqtt,
        client_id: str,
        will: tuple[str, str] | None,
        callbacks: LinkCallbacks,
        log: Log,
    ) -> None:
        self._config = config
        self._callbacks = callbacks
        self._log = log
        self._outage = Outage()
        self._floor = config.reconnect_min_seconds
        self._up_since: float | None = None
        self._queue_full_said = False
        self.url = config.broker_url
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv311,
            transport=config.transport,
        )
        if config.transport == "websockets":
            client.ws_set_options(path=config.ws_path)
        if config.tls is not None:
            _set_tls(client, config)
        if config.username:
            client.username_pw_set(config.username, config.password)
        if will is not None:  # a service's; a client such as `warden` has none
            client.will_set(will[0], will[1], qos=1, retain=True)
        client.max_queued_messages_set(MAX_QUEUED)
        _set_backoff(client, config.reconnect_min_seconds, config.reconnect_max_seconds)
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_socket_open = _no_delay
        self._client = client

    @property
    def connected(self) -> bool:
        return self._client.is_connected()

    def start(self) -> None:
        if self._config.plain_on_tls_port():
            self._log.warning(
                "bus.tls_port_without_tls",
                broker=self.url,
                fix="port 8883 is MQTT over TLS: set mqtt.tls (true, or its ca_certs)",
            )
        self._log.info("bus.connecting", broker=self.url)
        self._client.connect_async(
            self._config.broker_host, self._config.port, self._config.keepalive_seconds
        )
        self._client.loop_start()

    def stop(self, last: tuple[str, str] | None, timeout: float) -> None:
        """Clean shutdown: `last` (a topic and payload, QoS 1, retained) goes out first,
        since a clean disconnect sends no will."""
        if last is not None and self.connected:
            info = self._client.publish(last[0], last[1], qos=1, retain=True)
            with contextlib.suppress(RuntimeError, ValueError):
                info.wait_for_publish(timeout)
        self._client.disconnect()
        self._client.loop_stop()

    def publish(self, topic: str, payload: bytes, qos: int, retain: bool) -> bool:
        """Never waits on the network: paho queues and its thread sends. False when the
        message waits for the next connection (QoS 1) or is gone (QoS 0, or a full queue)."""
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc == mqtt.MQTT_ERR_QUEUE_SIZE:
            if not self._queue_full_said:
                self._queue_full_said = True
                self._log.warning("bus.queue_full", kept=MAX_QUEUED, dropping="new messages")
            return False
        return info.rc == mqtt.MQTT_ERR_SUCCESS

    def publish_wait(self, topic: str, payload: bytes, timeout: float) -> bool:
        """QoS 1, not retained, and wait until the broker has it: for a one-shot client that
        exits right after. False: not acknowledged within timeout."""
        info = self._client.publish(topic, payload, qos=1, retain=False)
        try:
            info.wait_for_publish(timeout)
        except (RuntimeError, ValueError):
            return False
        return info.is_published()

    def subscribe(self, topic_filter: str, qos: int) -> None:
        self._client.subscribe(topic_filter, qos)

    # --- paho's callbacks (its thread) ---------------------------------------

    def _on_connect(self, _c: Any, _u: Any, _flags: Any, reason: Any, _props: Any) -> None:
        if reason.is_failure:
            self._failed(f"the broker refused the login: {reason}")
            return
        self._up_since = time.monotonic()
        self._queue_full_said = False
        if attempts := self._outage.end():
            self._log.info("bus.reachable_again", broker=self.url, failed_attempts=attempts)
        self._callbacks.connected()

    def _on_connect_fail(self, _c: Any, _u: Any) -> None:
        # Called from inside paho's `except OSError`: the error is the one being handled.
        self._failed(reason_of(sys.exc_info()[1]))

    def _failed(self, reason: str) -> None:
        now = time.monotonic()
        if not self._outage.failed(now):
            return
        if self._outage.attempts == 1:
            self._log.warning("bus.connect_failed", broker=self.url, reason=reason)
        else:
            self._log.warning(
                "bus.still_unreachable",
                broker=self.url,
                reason=reason,
                attempts=self._outage.attempts,
                for_seconds=round(now - self._outage.started),
            )

    def _on_disconnect(self, _c: Any, _u: Any, _flags: Any, reason: Any, _props: Any) -> None:
        if self._up_since is None:
            return  # a connect that never came up: _failed said it
        held = time.monotonic() - self._up_since
        self._up_since = None
        cfg = self._config
        self._floor = backoff_floor(
            held, self._floor, cfg.reconnect_min_seconds, cfg.reconnect_max_seconds
        )
        _set_backoff(self._client, self._floor, cfg.reconnect_max_seconds)
        self._callbacks.lost(str(reason))

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        self._callbacks.message(msg.topic, bytes(msg.payload), bool(msg.retain))


def _set_tls(client: mqtt.Client, config: Mqtt) -> None:
    tls = config.tls
    assert tls is not None
    for key in ("ca_certs", "certfile", "keyfile"):
        path = getattr(tls, key)
        if path is not None:
            try:
                with open(path, "rb"):
                    pass
            except OSError as exc:
                raise SetupError(f"mqtt.tls.{key}", f"{path}: {brief(exc)}") from None
    try:
        client.tls_set(ca_certs=tls.ca_certs, certfile=tls.certfile, keyfile=tls.keyfile)
    except (OSError, ValueError) as exc:
        raise SetupError("mqtt.tls", f"not a usable certificate or key: {brief(exc)}") from None
    if tls.insecure:
        client.tls_insecure_set(True)


def _set_backoff(client: mqtt.Client, least: float, most: float) -> None:
    # paho annotates ints but sleeps on floats: sub-second backoff is what tests use.
    client.reconnect_delay_set(least, most)  # type: ignore[arg-type]


def _no_delay(_client: object, _userdata: object, sock: object) -> None:
    """Small messages go out at once: with Nagle's algorithm, a publish right after another
    waits for the broker's delayed ACK, about 40 ms, on the path from trigger to pause."""
    with contextlib.suppress(OSError, AttributeError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # type: ignore[attr-defined]
