"""An MQTT 3.1.1 client over plain TCP: one connection, kept up by one thread.

Warden's services need little of MQTT: a last will, QoS 0 and 1, retained messages,
subscriptions sent again on every connect (clean session), keepalive, reconnecting with
backoff. paho-mqtt brings all of that and much more, and with it `ssl`, `urllib.request`
and `http.client` into every service (2-3 MB of RSS each, measured in bench/idle_cost):
this is the part Warden uses, with nothing on the path it does not need.

- The thread connects, reads, answers (PUBACK, ping) and reconnects; callbacks run on it.
- Any thread may publish or subscribe. Writes go out under one lock, so a reconnect's
  re-sends and callbacks come before anything published after it.
- A QoS 1 message is kept until the broker acknowledges it: published while disconnected
  or lost with a connection, it is sent (again) after the next connect, in order. At most
  MAX_PENDING are kept; past that the oldest is dropped: logged at the first drop, and
  how many at the next connect.
"""

from __future__ import annotations

import contextlib
import itertools
import select
import socket
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from shared.logs import Log
from shared.mqtt import packets
from shared.mqtt.packets import Kind, Packet, ProtocolError, Will

MAX_PENDING = 1000
CONNECT_TIMEOUT = 10.0
READ_SIZE = 65536


@dataclass
class Delivery:
    """A publish on its way: done once sent (QoS 0) or acknowledged (QoS 1)."""

    packet: bytes
    sent: bool = False  # sent on the connection there was when it was published
    done: threading.Event = field(default_factory=threading.Event)

    def wait(self, timeout: float) -> bool:
        return self.done.wait(timeout)


@dataclass(frozen=True)
class Callbacks:
    # Each runs on the client's thread. disconnected: a connection that was up is lost.
    connected: Callable[[], None]
    refused: Callable[[str], None]
    disconnected: Callable[[str], None]
    message: Callable[[packets.Publish], None]


class ConnectionLost(Exception):
    pass


class Client:
    def __init__(
        self,
        client_id: str,
        callbacks: Callbacks,
        log: Log,
        *,
        keepalive: int,
        reconnect_min: float,
        reconnect_max: float,
        will: Will | None = None,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self._connect_packet = packets.connect(client_id, keepalive, will, username, password)
        self._callbacks = callbacks
        self._log = log
        self._keepalive = keepalive
        self._backoff = (reconnect_min, reconnect_max)
        self._address: tuple[str, int] | None = None
        # Held while writing, and by the thread from CONNACK until the re-sends are out.
        self._lock = threading.RLock()
        self._sock: socket.socket | None = None
        self._pending: OrderedDict[int, Delivery] = OrderedDict()
        self._ids = itertools.cycle(range(1, packets.MAX_PACKET_ID + 1))
        self._dropped = 0
        self._last_sent = 0.0
        self._stopping = threading.Event()
        self._was_up = False
        self._queue: deque[Packet] = deque()  # read, not yet handled: the thread's own
        self._thread: threading.Thread | None = None

    @property
    def connected(self) -> bool:
        return self._sock is not None

    # --- any thread ---------------------------------------------------------

    def start(self, host: str, port: int) -> None:
        self._address = (host, port)
        self._thread = threading.Thread(target=self._run, name="mqtt", daemon=True)
        self._thread.start()

    def publish(self, topic: str, payload: bytes, qos: int, retain: bool) -> Delivery:
        """Sends now if connected. A QoS 1 message not sent now goes after the next
        connect; a QoS 0 one is dropped (the delivery never completes)."""
        with self._lock:
            packet_id = self._next_id() if qos else None
            delivery = Delivery(packets.publish(topic, payload, qos, retain, packet_id))
            if packet_id is not None:
                self._keep(packet_id, delivery)
            delivery.sent = self._send(delivery.packet)
            if delivery.sent and packet_id is None:
                delivery.done.set()
            return delivery

    def subscribe(self, topic_filter: str, qos: int) -> None:
        """Only while connected: the caller subscribes again on every connect."""
        with self._lock:
            self._send(packets.subscribe(self._next_id(), topic_filter, qos))

    def stop(self, timeout: float = 3.0) -> None:
        """Disconnect cleanly (the broker sends no will) and end the thread."""
        self._stopping.set()
        with self._lock:
            self._send(packets.DISCONNECT)
            self._sever()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    # --- under the lock -----------------------------------------------------

    def _next_id(self) -> int:
        while (packet_id := next(self._ids)) in self._pending:
            pass
        return packet_id

    def _keep(self, packet_id: int, delivery: Delivery) -> None:
        if len(self._pending) >= MAX_PENDING:
            self._pending.popitem(last=False)
            self._dropped += 1
            if self._dropped == 1:
                self._log.warning("bus.queue_full", kept=MAX_PENDING, dropping="the oldest")
        self._pending[packet_id] = delivery

    def _send(self, data: bytes) -> bool:
        sock = self._sock
        if sock is None:
            return False
        try:
            sock.sendall(data)
        except OSError:
            # The reading thread sees the connection end and reconnects.
            self._sever()
            return False
        self._last_sent = time.monotonic()
        return True

    def _sever(self) -> None:
        """Ends the connection for both ways, but only the client's thread closes the
        socket: closed under it, its select would meet a file descriptor of -1."""
        sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    # --- the client's thread ------------------------------------------------

    def _run(self) -> None:
        delay = self._backoff[0]
        while not self._stopping.is_set():
            self._was_up = False
            try:
                self._session()
            except (OSError, ConnectionLost, ProtocolError) as exc:
                self._lost(exc)
            if self._was_up:  # lost after a good connection: try again soon
                delay = self._backoff[0]
            if self._stopping.wait(delay):
                break
            if not self._was_up:
                delay = min(delay * 2, self._backoff[1])

    def _session(self) -> None:
        """One connection, from CONNECT until it is lost or the client stops."""
        assert self._address is not None
        sock = socket.create_connection(self._address, timeout=CONNECT_TIMEOUT)
        try:
            # Small messages go out at once: with Nagle's algorithm a publish right after
            # another waits for the broker's delayed ACK, about 40 ms.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            reader = packets.Reader()
            sock.sendall(self._connect_packet)
            first = self._read(sock, reader, CONNECT_TIMEOUT)
            if first is None:
                raise ConnectionLost(f"no CONNACK in {CONNECT_TIMEOUT:g}s")
            if first.kind != Kind.CONNACK:
                raise ProtocolError(f"packet type {first.kind} before CONNACK")
            code = packets.parse_connack(first)
            if code:
                self._callbacks.refused(packets.CONNACK_REFUSALS.get(code, f"return code {code}"))
                return
            self._up(sock, reader)
        finally:
            with self._lock:
                if self._sock is sock:
                    self._sock = None
            sock.close()

    def _up(self, sock: socket.socket, reader: packets.Reader) -> None:
        with self._lock:
            if self._stopping.is_set():
                return
            # A send that cannot go out in a keepalive means the connection is gone.
            sock.settimeout(self._keepalive)
            self._sock = sock
            self._was_up = True
            self._last_sent = time.monotonic()
            if self._dropped:
                self._log.warning("bus.queue_dropped", dropped=self._dropped, kept=MAX_PENDING)
                self._dropped = 0
            self._callbacks.connected()
            for delivery in list(self._pending.values()):
                self._send(packets.as_duplicate(delivery.packet))
        self._serve(sock, reader)

    def _serve(self, sock: socket.socket, reader: packets.Reader) -> None:
        """Read and answer until the connection is lost. A ping goes out when either way has
        been quiet for the keepalive, so a broker gone silent is noticed while we publish."""
        last_in = time.monotonic()
        ping_sent: float | None = None
        while True:
            now = time.monotonic()
            if ping_sent is not None and now - ping_sent > self._keepalive:
                raise ConnectionLost(f"no answer to a ping in {self._keepalive}s")
            since = ping_sent if ping_sent is not None else min(self._last_sent, last_in)
            if ping_sent is None and now - since >= self._keepalive:
                with self._lock:
                    if self._send(packets.PINGREQ):
                        ping_sent = since = now
            packet = self._read(sock, reader, max(self._keepalive - (now - since), 0.05))
            if packet is None:
                continue
            last_in = time.monotonic()
            if packet.kind == Kind.PINGRESP:
                ping_sent = None
            else:
                self._handle(packet)

    def _read(self, sock: socket.socket, reader: packets.Reader, timeout: float) -> Packet | None:
        """The next packet, or None when none came within the timeout."""
        while not self._queue:
            # select, not the socket's timeout: that would also bound other threads' sends.
            readable, _, _ = select.select([sock], [], [], timeout)
            if not readable:
                return None
            data = sock.recv(READ_SIZE)
            if not data:
                closed = "stopped" if self._stopping.is_set() else "closed by the broker"
                raise ConnectionLost(closed)
            self._queue.extend(reader.feed(data))
        return self._queue.popleft()

    def _handle(self, packet: Packet) -> None:
        if packet.kind == Kind.PUBLISH:
            message = packets.parse_publish(packet)
            if message.packet_id is not None:
                with self._lock:
                    self._send(packets.puback(message.packet_id))
            self._callbacks.message(message)
        elif packet.kind == Kind.PUBACK:
            packet_id = packets.parse_puback(packet)
            with self._lock:
                delivery = self._pending.pop(packet_id, None)
            if delivery is not None:
                delivery.done.set()
        elif packet.kind == Kind.SUBACK:
            _, codes = packets.parse_suback(packet)
            if packets.SUBSCRIBE_FAILED in codes:
                self._log.warning("bus.subscribe_refused", reason="the broker refused a filter")
        else:
            raise ProtocolError(f"unexpected packet type {packet.kind}")

    def _lost(self, exc: BaseException) -> None:
        with self._lock:
            self._queue.clear()
        # Only a connection that was up is lost: a failed attempt is retried quietly.
        if self._was_up and not self._stopping.is_set():
            self._callbacks.disconnected(str(exc) or type(exc).__name__)
