"""MQTT 3.1.1 packets and topic filters, as bytes and tables (no broker: that is
test_mqtt_client's)."""

from __future__ import annotations

import pytest

from shared.mqtt import packets
from shared.mqtt.packets import Kind, Packet, ProtocolError, Reader, Will
from shared.mqtt.topic_filter import matches


@pytest.mark.parametrize(
    ("length", "encoded"),
    [
        # The spec's table 2.4: each boundary of one to four bytes.
        (0, b"\x00"),
        (127, b"\x7f"),
        (128, b"\x80\x01"),
        (16_383, b"\xff\x7f"),
        (16_384, b"\x80\x80\x01"),
        (2_097_151, b"\xff\xff\x7f"),
        (2_097_152, b"\x80\x80\x80\x01"),
    ],
)
def test_remaining_length_as_the_spec_encodes_it(length: int, encoded: bytes) -> None:
    assert packets._remaining_length(length) == encoded


@pytest.mark.parametrize(
    ("packet", "expected"),
    [
        (
            packets.connect("c", 30),
            b"\x10\x0d\x00\x04MQTT\x04\x02\x00\x1e\x00\x01c",
        ),
        (
            packets.connect("c", 5, Will("t", b"off", 1, True), "u", "p"),
            b"\x10\x1b\x00\x04MQTT\x04\xee\x00\x05\x00\x01c\x00\x01t\x00\x03off\x00\x01u\x00\x01p",
        ),
        (
            packets.connect("c", 5, None, "u"),
            b"\x10\x10\x00\x04MQTT\x04\x82\x00\x05\x00\x01c\x00\x01u",
        ),
        (packets.publish("a/b", b"hi", 0, False, None), b"\x30\x07\x00\x03a/bhi"),
        (packets.publish("a/b", b"hi", 1, True, 7), b"\x33\x09\x00\x03a/b\x00\x07hi"),
        (packets.puback(258), b"\x40\x02\x01\x02"),
        (packets.subscribe(1, "a/#", 1), b"\x82\x08\x00\x01\x00\x03a/#\x01"),
        (packets.PINGREQ, b"\xc0\x00"),
        (packets.DISCONNECT, b"\xe0\x00"),
    ],
)
def test_packets_encode_as_the_spec_lays_them_out(packet: bytes, expected: bytes) -> None:
    assert packet == expected


def test_a_resent_publish_is_marked_duplicate_and_otherwise_the_same() -> None:
    first = packets.publish("t", b"x", 1, False, 3)
    again = packets.as_duplicate(first)
    assert again[0] == first[0] | 0x08 and again[1:] == first[1:]


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda: packets.publish("t", b"", 2, False, 1), "qos 2"),
        (lambda: packets.publish("t", b"", 1, False, None), "packet id"),
        (lambda: packets.publish("t" * 70_000, b"", 0, False, None), "65535"),
    ],
)
def test_what_cannot_be_sent_is_refused_before_any_byte(call: object, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        call()  # type: ignore[operator]


def test_the_reader_returns_whole_packets_however_the_bytes_arrive() -> None:
    stream = (
        packets.publish("a", b"x" * 300, 1, True, 9)
        + b"\x90\x03\x00\x01\x01"  # SUBACK
        + b"\xd0\x00"  # PINGRESP
    )
    for size in (1, 2, 7, len(stream)):
        reader = Reader()
        got: list[Packet] = []
        for start in range(0, len(stream), size):
            got += reader.feed(stream[start : start + size])
        assert [p.kind for p in got] == [Kind.PUBLISH, Kind.SUBACK, Kind.PINGRESP]
        message = packets.parse_publish(got[0])
        assert (message.topic, message.payload, message.qos, message.retain) == (
            "a",
            b"x" * 300,
            1,
            True,
        )
        assert message.packet_id == 9
        assert packets.parse_suback(got[1]) == (1, [1])


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"\x30\xff\xff\xff\xff\x01", "four bytes"),
        (b"\x30\xff\xff\xff\x7f", "over"),
    ],
)
def test_the_reader_refuses_a_broken_length(data: bytes, error: str) -> None:
    with pytest.raises(ProtocolError, match=error):
        Reader().feed(data)


@pytest.mark.parametrize(
    ("packet", "error"),
    [
        (Packet(Kind.PUBLISH, 0x04, b"\x00\x01a\x00\x01"), "QoS 2"),
        (Packet(Kind.PUBLISH, 0, b"\x00"), "without a topic"),
        (Packet(Kind.PUBLISH, 0x02, b"\x00\x01a\x00"), "shorter"),
        (Packet(Kind.PUBLISH, 0, b"\x00\x01\xff"), "not UTF-8"),
    ],
)
def test_a_broken_publish_is_a_protocol_error_naming_what(packet: Packet, error: str) -> None:
    with pytest.raises(ProtocolError, match=error):
        packets.parse_publish(packet)


@pytest.mark.parametrize(
    ("body", "expected"),
    [(b"\x00\x00", 0), (b"\x01\x05", 5)],
)
def test_connack_return_codes(body: bytes, expected: int) -> None:
    assert packets.parse_connack(Packet(Kind.CONNACK, 0, body)) == expected
    assert expected == 0 or expected in packets.CONNACK_REFUSALS


def test_a_connack_of_the_wrong_size_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="not 2"):
        packets.parse_connack(Packet(Kind.CONNACK, 0, b"\x00"))


@pytest.mark.parametrize(
    ("topic_filter", "topic", "expected"),
    [
        ("a/b", "a/b", True),
        ("a/b", "a/c", False),
        ("a/+", "a/b", True),
        ("a/+", "a", False),
        ("a/+", "a/b/c", False),
        ("a/+/c", "a/b/c", True),
        ("+/+", "/b", True),  # an empty level is a level
        ("a/#", "a", True),  # "#" includes the parent level
        ("a/#", "a/b/c", True),
        ("a/#", "ab", False),
        ("#", "a/b", True),
        ("#", "$SYS/broker", False),  # wildcards at the first level skip $ topics
        ("+/broker", "$SYS/broker", False),
        ("$SYS/#", "$SYS/broker", True),
        ("warden/+/sensors/#", "warden/h1/sensors/pressure", True),
        ("warden/+/sensors/#", "warden/h1/desired", False),
    ],
)
def test_topic_filters(topic_filter: str, topic: str, expected: bool) -> None:
    assert matches(topic_filter, topic) is expected
