"""The connection to the broker (paho-mqtt under shared/broker_link.py) against a real
Mosquitto: QoS 1 kept across an outage, keepalive pings, a silent broker, publishing that
never waits on the network, wills, the queue's bound, refused logins said once, and the
backoff against a broker that accepts and drops at once. The typed layer above it
(availability, decoding) is test_bus's. An exception that ends a thread fails the test it
happens in (pyproject's filterwarnings)."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared import broker_link
from shared.broker_link import BrokerLink, LinkCallbacks, Outage, backoff_floor
from shared.config.mqtt import Mqtt
from shared.logs import Log
from tests.support.acl_broker import AclBroker, mosquitto_passwd
from tests.support.broker import Mosquitto, free_port
from tests.support.logs import fields_of
from tests.support.probe import Probe
from tests.support.processes import wait_until
from tests.support.real import missing
from tests.support.socket_proxy import SocketProxy


class Recorder:
    """The link's callbacks, counted, with what came."""

    def __init__(self) -> None:
        self.connects = 0
        self.losses: list[str] = []
        self.messages: list[tuple[str, bytes, bool]] = []
        self._lock = threading.Lock()

    def callbacks(self) -> LinkCallbacks:
        return LinkCallbacks(self._connected, self._message, self._lost)

    def _connected(self) -> None:
        with self._lock:
            self.connects += 1

    def _lost(self, reason: str) -> None:
        with self._lock:
            self.losses.append(reason)

    def _message(self, topic: str, payload: bytes, retained: bool) -> None:
        with self._lock:
            self.messages.append((topic, payload, retained))


def make_link(
    recorder: Recorder,
    port: int,
    will: tuple[str, str] = ("will/t", "offline"),
    **mqtt: object,
) -> BrokerLink:
    settings: dict[str, object] = {"keepalive_seconds": 5, "reconnect_min_seconds": 0.1}
    settings |= {"reconnect_max_seconds": 0.5, **mqtt}
    config = Mqtt.model_validate({"host": "127.0.0.1", "port": port, **settings})
    client_id = f"test-{os.getpid()}-{time.monotonic_ns()}"
    return BrokerLink(config, client_id, will, recorder.callbacks(), Log("test.link"))


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def running(own_broker: Mosquitto, recorder: Recorder) -> Iterator[BrokerLink]:
    link = make_link(recorder, own_broker.port)
    link.start()
    wait_until(lambda: recorder.connects == 1, what="connected")
    yield link
    link.stop(None, 3)


def marker_then(probe: Probe, topic: str) -> None:
    """Everything published before this point has reached the probe once it sees this."""
    probe.publish(topic, b"marker")
    probe.wait_for(topic)


# --- pure: the backoff and what is said of an outage -------------------------


@pytest.mark.parametrize(
    ("held", "floor", "expected"),
    [
        (0.0, 1.0, 2.0),  # dropped at once: the floor doubles
        (3.0, 2.0, 4.0),
        (9.9, 16.0, 30.0),  # capped at the most
        (10.0, 16.0, 1.0),  # it held: back to the least
        (600.0, 1.0, 1.0),
        (0.0, 0.5, 2.0),  # never below the least before doubling
    ],
)
def test_the_backoff_floor_resets_only_after_a_connection_that_held(
    held: float, floor: float, expected: float
) -> None:
    assert backoff_floor(held, floor, least=1.0, most=30.0) == expected


def test_an_outage_is_said_at_its_first_failure_then_once_a_minute() -> None:
    outage = Outage()
    said = [outage.failed(t) for t in (100.0, 101.0, 130.0, 159.9, 160.0, 170.0, 220.0)]
    assert said == [True, False, False, False, True, False, True]
    assert outage.end() == 7 and outage.end() == 0
    assert outage.failed(500.0)  # a new outage is said at once


# --- on a real broker ---------------------------------------------------------


def test_qos1_published_while_the_broker_is_down_arrives_once_it_is_back(
    own_broker: Mosquitto, recorder: Recorder, running: BrokerLink
) -> None:
    own_broker.stop()
    wait_until(lambda: bool(recorder.losses), what="the loss noticed")
    assert not running.publish("t/queued", b"kept", qos=1, retain=True)
    assert not running.publish("t/lost", b"gone", qos=0, retain=True)
    own_broker.start()
    wait_until(lambda: recorder.connects == 2, timeout=20, what="reconnected")
    probe = Probe(own_broker.host, own_broker.port, subscribe="t/#")
    try:
        assert probe.wait_for("t/queued").payload == b"kept"
        marker_then(probe, "t/marker")
        assert probe.messages("t/lost") == []
    finally:
        probe.close()


def test_pings_keep_an_idle_connection_and_messages_still_come(
    tmp_path: Path, recorder: Recorder
) -> None:
    broker = Mosquitto(tmp_path, verbose=True)
    broker.start()
    link = make_link(recorder, broker.port, keepalive_seconds=5)
    link.start()
    try:
        wait_until(lambda: recorder.connects == 1, what="connected")
        link.subscribe("t/#", 1)
        # Mosquitto drops a client silent for 1.5 keepalives: two pings answered prove
        # the connection was kept through more than that.
        wait_until(
            lambda: broker.log.read_text().count("Received PINGREQ") >= 2,
            timeout=30,
            what="two pings",
        )
        assert recorder.connects == 1 and recorder.losses == []
        probe = Probe(broker.host, broker.port, subscribe="none")
        try:
            probe.publish("t/x", b"hello")
        finally:
            probe.close()
        wait_until(lambda: bool(recorder.messages), what="the message")
        assert recorder.messages[0] == ("t/x", b"hello", False)
    finally:
        link.stop(None, 3)
        broker.stop()


def test_a_retained_message_comes_marked_retained(
    own_broker: Mosquitto, recorder: Recorder, running: BrokerLink
) -> None:
    probe = Probe(own_broker.host, own_broker.port, subscribe="none")
    try:
        probe.publish("t/kept", b"stored", retain=True)
    finally:
        probe.close()
    running.subscribe("t/#", 1)
    wait_until(lambda: bool(recorder.messages), what="the retained message")
    assert recorder.messages[0] == ("t/kept", b"stored", True)


def test_a_broker_gone_silent_is_noticed_and_rejoined(
    own_broker: Mosquitto, recorder: Recorder, running: BrokerLink
) -> None:
    assert own_broker.process is not None
    os.kill(own_broker.process.pid, signal.SIGSTOP)
    try:
        wait_until(lambda: bool(recorder.losses), timeout=20, what="the silence noticed")
    finally:
        os.kill(own_broker.process.pid, signal.SIGCONT)
    wait_until(lambda: recorder.connects >= 2, timeout=20, what="rejoined")


def test_publishing_never_waits_on_a_broker_that_stopped_reading(
    own_broker: Mosquitto, recorder: Recorder, running: BrokerLink
) -> None:
    """More than the socket buffers hold, to a broker that reads nothing: every publish
    returns while the broker is still stopped (paho's thread is the one that waits)."""
    assert own_broker.process is not None
    os.kill(own_broker.process.pid, signal.SIGSTOP)
    done = threading.Event()

    def publish_a_lot() -> None:
        running.publish("t/big", b"x" * (16 << 20), qos=1, retain=False)
        for n in range(200):
            running.publish(f"t/{n}", b"small", qos=1, retain=False)
        done.set()

    try:
        threading.Thread(target=publish_a_lot, daemon=True).start()
        assert done.wait(30), "a publish waited on the stopped broker"
        # Still stopped: the publishes could not have been written out.
        stat = Path(f"/proc/{own_broker.process.pid}/stat").read_text()
        assert stat.split()[2] == "T"
    finally:
        os.kill(own_broker.process.pid, signal.SIGCONT)
    probe = Probe(own_broker.host, own_broker.port, subscribe="t/#")
    try:
        marker_then(probe, "t/marker")
    finally:
        probe.close()


def test_a_clean_stop_sends_no_will_and_a_kill_does(own_broker: Mosquitto) -> None:
    probe = Probe(own_broker.host, own_broker.port, subscribe="will/#")
    try:
        stopped, dropped = Recorder(), Recorder()
        clean = make_link(stopped, own_broker.port, will=("will/stopped", "offline"))
        proxy = SocketProxy(tcp=own_broker.port)  # cut below the client, as a SIGKILL would
        killed = make_link(dropped, proxy.port, will=("will/dropped", "offline"))
        for link in (clean, killed):
            link.start()
        wait_until(lambda: stopped.connects == 1 and dropped.connects == 1, what="connected")
        clean.stop(None, 3)
        proxy.close()
        assert probe.wait_for("will/dropped").payload == b"offline"
        marker_then(probe, "will/marker")
        assert probe.messages("will/stopped") == []
        killed.stop(None, 1)
    finally:
        probe.close()


def test_past_the_bound_new_messages_are_refused_and_said_once(
    own_broker: Mosquitto,
    recorder: Recorder,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    monkeypatch.setattr(broker_link, "MAX_QUEUED", 3)
    link = make_link(recorder, own_broker.port)
    kept = [link.publish(f"t/{n}", str(n).encode(), qos=1, retain=True) for n in range(5)]
    assert kept == [False] * 5  # none sent yet: no connection
    link.start()
    try:
        wait_until(lambda: recorder.connects == 1, what="connected")
        probe = Probe(own_broker.host, own_broker.port, subscribe="t/#")
        try:
            marker_then(probe, "t/marker")
            assert sorted(s.topic for s in probe.seen if s.topic != "t/marker") == [
                "t/0",
                "t/1",
                "t/2",
            ]
        finally:
            probe.close()
    finally:
        link.stop(None, 3)
    said = [r.getMessage() for r in caplog.records]
    assert said.count("bus.queue_full") == 1


def test_a_refused_login_is_said_once_and_tried_again(
    recorder: Recorder, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    if mosquitto_passwd() is None:
        missing("mosquitto_passwd is not installed (apt-get install mosquitto)")
    caplog.set_level(logging.WARNING)
    acl = tmp_path / "acl"
    acl.write_text("user u\ntopic readwrite #\n")
    broker = AclBroker(acl, {"u": "right"}, allow_anonymous=False)
    link = make_link(recorder, broker.port, username="u", password="wrong")
    try:
        link.start()
        wait_until(
            lambda: broker.log_path.read_text().count("not authorised") >= 3,
            what="three refused logins",
        )
        assert recorder.connects == 0 and recorder.losses == []  # never up, never lost
        failed = [r for r in caplog.records if r.getMessage() == "bus.connect_failed"]
        assert len(failed) == 1
        assert "refused the login" in fields_of(failed[0])["reason"]
    finally:
        link.stop(None, 3)
        broker.close()


def test_a_broker_that_accepts_and_drops_at_once_is_tried_ever_less_often(
    own_broker: Mosquitto, recorder: Recorder
) -> None:
    """paho resets its backoff on every accepted login; the link does not, until a
    connection has held: without that, this would be a reconnect every 0.1 s."""
    proxy = SocketProxy(tcp=own_broker.port)
    proxy.cut_after = 0.2
    link = make_link(recorder, proxy.port, reconnect_min_seconds=0.1, reconnect_max_seconds=1.6)
    link.start()
    try:
        wait_until(lambda: len(proxy.accepted) >= 6, timeout=30, what="six connections")
        assert recorder.connects >= 5  # each was accepted, then dropped
        gaps = [b - a for a, b in zip(proxy.accepted, proxy.accepted[1:], strict=False)]
        # 0.2 s held plus a delay that doubles: 0.2, 0.4, 0.8, 1.6, 1.6 s.
        assert gaps[-1] >= 1.6
    finally:
        link.stop(None, 3)
        proxy.close()


def test_websockets_reach_a_broker_through_its_websocket_listener(
    tmp_path: Path, recorder: Recorder
) -> None:
    broker = Mosquitto(tmp_path)
    ws_port = free_port()
    with broker.config.open("a") as conf:
        conf.write(f"listener {ws_port} 127.0.0.1\nprotocol websockets\n")
    broker.start()
    link = make_link(recorder, ws_port, transport="websockets", ws_path="/mqtt")
    try:
        link.start()
        wait_until(lambda: recorder.connects == 1, what="connected over WebSockets")
        link.subscribe("t/#", 1)
        probe = Probe(broker.host, broker.port, subscribe="none")
        try:
            probe.publish("t/ws", b"through the websocket")
        finally:
            probe.close()
        wait_until(lambda: bool(recorder.messages), what="a message over WebSockets")
        assert recorder.messages[0][:2] == ("t/ws", b"through the websocket")
    finally:
        link.stop(None, 3)
        broker.stop()
