"""MQTT 3.1.1 control packets, as bytes: the part of the protocol Warden speaks, encoded and
decoded without I/O (OASIS MQTT 3.1.1, sections 2 and 3).

What Warden sends: CONNECT (with a last will and a login), PUBLISH at QoS 0 or 1,
PUBACK, SUBSCRIBE, PINGREQ, DISCONNECT. What it reads: CONNACK, PUBLISH at QoS 0 or 1,
PUBACK, SUBACK, PINGRESP. QoS 2 is not spoken: every subscription asks for 1 at most, so
the broker never sends it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum


class Kind(IntEnum):
    CONNECT = 1
    CONNACK = 2
    PUBLISH = 3
    PUBACK = 4
    SUBSCRIBE = 8
    SUBACK = 9
    PINGREQ = 12
    PINGRESP = 13
    DISCONNECT = 14


# A packet id is two bytes, 0 is not one.
MAX_PACKET_ID = 65535
# The remaining length's varint holds at most 268,435,455; a packet this client reads is
# far smaller, and one claiming more is a broken stream, not a message to buffer.
MAX_REMAINING = 16 * 1024 * 1024
SUBSCRIBE_FAILED = 0x80
DUP = 0x08

CONNACK_REFUSALS = {
    1: "unacceptable protocol version",
    2: "client identifier rejected",
    3: "server unavailable",
    4: "bad user name or password",
    5: "not authorized",
}


class ProtocolError(ValueError):
    """The broker sent bytes that are not the MQTT this client speaks."""


@dataclass(frozen=True)
class Will:
    topic: str
    payload: bytes
    qos: int
    retain: bool


@dataclass(frozen=True)
class Packet:
    kind: int
    flags: int
    body: bytes


@dataclass(frozen=True)
class Publish:
    topic: str
    payload: bytes
    qos: int
    retain: bool
    packet_id: int | None


def _string(text: str) -> bytes:
    return _binary(text.encode())


def _binary(data: bytes) -> bytes:
    if len(data) > 0xFFFF:
        raise ValueError(f"{len(data)} bytes: over MQTT's 65535 for a string")
    return struct.pack("!H", len(data)) + data


def _remaining_length(n: int) -> bytes:
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _packet(kind: Kind, flags: int, body: bytes) -> bytes:
    return bytes([kind << 4 | flags]) + _remaining_length(len(body)) + body


def connect(
    client_id: str,
    keepalive: int,
    will: Will | None = None,
    username: str | None = None,
    password: str | None = None,
) -> bytes:
    flags = 0x02  # clean session: subscriptions are sent again on every connect
    payload = _string(client_id)
    if will is not None:
        flags |= 0x04 | will.qos << 3 | (0x20 if will.retain else 0)
        payload += _string(will.topic) + _binary(will.payload)
    if username is not None:
        flags |= 0x80
        payload += _string(username)
        if password is not None:
            flags |= 0x40
            payload += _string(password)
    header = _string("MQTT") + bytes([4, flags]) + struct.pack("!H", keepalive)
    return _packet(Kind.CONNECT, 0, header + payload)


def publish(topic: str, payload: bytes, qos: int, retain: bool, packet_id: int | None) -> bytes:
    if qos not in (0, 1):
        raise ValueError(f"qos {qos}: this client publishes at 0 or 1")
    body = _string(topic)
    if qos:
        if packet_id is None:
            raise ValueError("a QoS 1 publish needs a packet id")
        body += struct.pack("!H", packet_id)
    return _packet(Kind.PUBLISH, qos << 1 | (1 if retain else 0), body + payload)


def as_duplicate(packet: bytes) -> bytes:
    """The same PUBLISH sent again after a reconnect, marked as maybe seen before."""
    return bytes([packet[0] | DUP]) + packet[1:]


def puback(packet_id: int) -> bytes:
    return _packet(Kind.PUBACK, 0, struct.pack("!H", packet_id))


def subscribe(packet_id: int, topic_filter: str, qos: int) -> bytes:
    body = struct.pack("!H", packet_id) + _string(topic_filter) + bytes([qos])
    return _packet(Kind.SUBSCRIBE, 0x02, body)


PINGREQ = _packet(Kind.PINGREQ, 0, b"")
DISCONNECT = _packet(Kind.DISCONNECT, 0, b"")


class Reader:
    """Whole packets out of a byte stream that arrives in pieces."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[Packet]:
        self._buffer += data
        packets = []
        while (packet := self._next()) is not None:
            packets.append(packet)
        return packets

    def _next(self) -> Packet | None:
        buf = self._buffer
        length, shift, i = 0, 0, 1
        while True:
            if i >= len(buf):
                return None
            digit = buf[i]
            length |= (digit & 0x7F) << shift
            i += 1
            if not digit & 0x80:
                break
            shift += 7
            if shift > 21:
                raise ProtocolError("remaining length longer than four bytes")
        if length > MAX_REMAINING:
            raise ProtocolError(f"a packet of {length} bytes, over {MAX_REMAINING}")
        if len(buf) < i + length:
            return None
        packet = Packet(buf[0] >> 4, buf[0] & 0x0F, bytes(buf[i : i + length]))
        del buf[: i + length]
        return packet


def _packet_id(body: bytes, kind: str) -> int:
    if len(body) < 2:
        raise ProtocolError(f"{kind} without a packet id")
    packet_id: int = struct.unpack_from("!H", body)[0]
    return packet_id


def parse_connack(packet: Packet) -> int:
    """The return code: 0 accepted, else CONNACK_REFUSALS says why not."""
    if len(packet.body) != 2:
        raise ProtocolError(f"CONNACK of {len(packet.body)} bytes, not 2")
    return packet.body[1]


def parse_puback(packet: Packet) -> int:
    return _packet_id(packet.body, "PUBACK")


def parse_suback(packet: Packet) -> tuple[int, list[int]]:
    return _packet_id(packet.body, "SUBACK"), list(packet.body[2:])


def parse_publish(packet: Packet) -> Publish:
    qos = packet.flags >> 1 & 0x03
    if qos > 1:
        raise ProtocolError(f"PUBLISH at QoS {qos}: subscriptions ask for 1 at most")
    body = packet.body
    if len(body) < 2:
        raise ProtocolError("PUBLISH without a topic")
    (size,) = struct.unpack_from("!H", body)
    end = 2 + size
    if len(body) < end + (2 if qos else 0):
        raise ProtocolError("PUBLISH shorter than its topic and packet id")
    try:
        topic = body[2:end].decode()
    except UnicodeDecodeError as exc:
        raise ProtocolError(f"PUBLISH topic is not UTF-8: {exc}") from None
    packet_id = None
    if qos:
        packet_id = struct.unpack_from("!H", body, end)[0]
        end += 2
    return Publish(topic, body[end:], qos, bool(packet.flags & 0x01), packet_id)
