"""Warden's MQTT client against a real Mosquitto: queued QoS 1 across a broker outage,
keepalive pings, a silent broker, a refused login, the pending bound. The typed layer
above it (availability, wills, decoding) is test_bus's. An exception that ends the
client's thread fails the test it happens in, even at stop (pyproject's filterwarnings)."""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.logs import Log
from shared.mqtt import client as client_module
from shared.mqtt.client import Callbacks, Client
from shared.mqtt.packets import CONNACK_REFUSALS, Publish, Will
from tests.support.acl_broker import AclBroker, mosquitto_passwd
from tests.support.broker import Mosquitto
from tests.support.probe import Probe


class Recorder:
    """The client's callbacks, counted, with what came."""

    def __init__(self) -> None:
        self.connects = 0
        self.refusals: list[str] = []
        self.losses: list[str] = []
        self.messages: list[Publish] = []
        self._cond = threading.Condition()

    def callbacks(self) -> Callbacks:
        return Callbacks(self._connected, self._refused, self._lost, self._message)

    def _note(self, fn: object) -> None:
        with self._cond:
            fn()  # type: ignore[operator]
            self._cond.notify_all()

    def _connected(self) -> None:
        self._note(lambda: setattr(self, "connects", self.connects + 1))

    def _refused(self, reason: str) -> None:
        self._note(lambda: self.refusals.append(reason))

    def _lost(self, reason: str) -> None:
        self._note(lambda: self.losses.append(reason))

    def _message(self, message: Publish) -> None:
        self._note(lambda: self.messages.append(message))

    def wait(self, what: object, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not what():  # type: ignore[operator]
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"still not so after {timeout:g}s")
                self._cond.wait(remaining)


def make_client(recorder: Recorder, keepalive: int = 5, **kwargs: object) -> Client:
    return Client(
        f"test-{os.getpid()}-{time.monotonic_ns()}",
        recorder.callbacks(),
        Log("test.mqtt"),
        keepalive=keepalive,
        reconnect_min=0.1,
        reconnect_max=0.5,
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def running(own_broker: Mosquitto, recorder: Recorder) -> Iterator[Client]:
    client = make_client(recorder, keepalive=1)
    client.start(own_broker.host, own_broker.port)
    recorder.wait(lambda: recorder.connects == 1)
    yield client
    client.stop()


def test_qos1_published_while_the_broker_is_down_arrives_once_it_is_back(
    own_broker: Mosquitto, recorder: Recorder, running: Client
) -> None:
    own_broker.stop()
    recorder.wait(lambda: recorder.losses)
    delivery = running.publish("t/queued", b"kept", qos=1, retain=True)
    lost = running.publish("t/lost", b"gone", qos=0, retain=True)
    assert not delivery.sent and not lost.sent
    own_broker.start()
    recorder.wait(lambda: recorder.connects == 2)
    assert delivery.wait(10)
    probe = Probe(own_broker.host, own_broker.port, subscribe="t/#")
    try:
        assert probe.wait_for("t/queued").payload == b"kept"
        assert probe.messages("t/lost") == []
    finally:
        probe.close()


def test_pings_keep_an_idle_connection_and_messages_still_come(
    own_broker: Mosquitto, recorder: Recorder, running: Client
) -> None:
    running.subscribe("t/#", 1)
    time.sleep(4)  # Mosquitto drops a client silent for 1.5 keepalives
    assert recorder.connects == 1 and recorder.losses == []
    probe = Probe(own_broker.host, own_broker.port, subscribe="none")
    try:
        probe.publish("t/x", b"hello")
    finally:
        probe.close()
    recorder.wait(lambda: recorder.messages)
    got = recorder.messages[0]
    assert (got.topic, got.payload, got.retain) == ("t/x", b"hello", False)


def test_a_retained_message_comes_marked_retained(
    own_broker: Mosquitto, recorder: Recorder, running: Client
) -> None:
    probe = Probe(own_broker.host, own_broker.port, subscribe="none")
    try:
        probe.publish("t/kept", b"stored", retain=True)
    finally:
        probe.close()
    running.subscribe("t/#", 1)
    recorder.wait(lambda: recorder.messages)
    assert (recorder.messages[0].payload, recorder.messages[0].retain) == (b"stored", True)


def test_a_broker_gone_silent_is_noticed_and_rejoined(
    own_broker: Mosquitto, recorder: Recorder, running: Client
) -> None:
    assert own_broker.process is not None
    os.kill(own_broker.process.pid, signal.SIGSTOP)
    try:
        recorder.wait(lambda: recorder.losses, timeout=10)
        assert "ping" in recorder.losses[0] or "answer" in recorder.losses[0]
    finally:
        os.kill(own_broker.process.pid, signal.SIGCONT)
    recorder.wait(lambda: recorder.connects >= 2, timeout=15)


def test_a_send_cut_short_on_another_thread_ends_the_connection_and_it_is_rejoined(
    own_broker: Mosquitto, recorder: Recorder, running: Client
) -> None:
    """The publishing thread's send times out on a stopped broker while the client's
    thread waits in select on the same socket: the connection ends, the thread lives."""
    assert own_broker.process is not None
    os.kill(own_broker.process.pid, signal.SIGSTOP)
    try:
        big = b"x" * (16 << 20)  # more than the socket buffers hold: sendall waits
        assert not running.publish("t/big", big, qos=0, retain=False).sent
        recorder.wait(lambda: recorder.losses, timeout=10)
    finally:
        os.kill(own_broker.process.pid, signal.SIGCONT)
    recorder.wait(lambda: recorder.connects >= 2, timeout=15)
    assert running.connected


def test_a_clean_stop_sends_no_will_and_a_kill_does(own_broker: Mosquitto) -> None:
    probe = Probe(own_broker.host, own_broker.port, subscribe="will/#")
    try:
        for name in ("stopped", "dropped"):
            recorder = Recorder()
            will = Will(f"will/{name}", b"offline", 1, False)
            client = make_client(recorder, will=will)
            client.start(own_broker.host, own_broker.port)
            recorder.wait(lambda r=recorder: r.connects == 1)  # type: ignore[misc]
            if name == "stopped":
                client.stop()
            else:  # as a SIGKILL would: the connection goes, no DISCONNECT before it
                assert client._sock is not None
                client._stopping.set()
                client._sock.shutdown(socket.SHUT_RDWR)
        assert probe.wait_for("will/dropped").payload == b"offline"
        time.sleep(0.5)
        assert probe.messages("will/stopped") == []
    finally:
        probe.close()


def test_past_the_bound_the_oldest_pending_messages_are_dropped_and_logged(
    own_broker: Mosquitto,
    recorder: Recorder,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    monkeypatch.setattr(client_module, "MAX_PENDING", 3)
    client = make_client(recorder)
    for n in range(5):  # before any connection
        client.publish(f"t/{n}", str(n).encode(), qos=1, retain=True)
    client.start(own_broker.host, own_broker.port)
    try:
        recorder.wait(lambda: recorder.connects == 1)
        probe = Probe(own_broker.host, own_broker.port, subscribe="t/#")
        try:
            probe.wait_for("t/4")
            assert sorted(s.topic for s in probe.seen) == ["t/2", "t/3", "t/4"]
        finally:
            probe.close()
    finally:
        client.stop()
    said = [r.getMessage() for r in caplog.records]
    assert said.count("bus.queue_full") == 1 and said.count("bus.queue_dropped") == 1


def test_a_refused_login_is_reported_and_tried_again(recorder: Recorder, tmp_path: Path) -> None:
    if mosquitto_passwd() is None:
        pytest.skip("mosquitto_passwd is not installed")
    acl = tmp_path / "acl"
    acl.write_text("user u\ntopic readwrite #\n")
    broker = AclBroker(acl, {"u": "right"}, allow_anonymous=False)
    client = make_client(recorder, username="u", password="wrong")
    try:
        client.start("127.0.0.1", broker.port)
        recorder.wait(lambda: len(recorder.refusals) >= 2)
        assert recorder.connects == 0 and recorder.losses == []  # never up, never lost
        assert recorder.refusals[0] in CONNACK_REFUSALS.values()
    finally:
        client.stop()
        broker.close()
