"""The MQTT wrapper against a real Mosquitto: typed delivery, bad payloads, wills, reconnects."""

from __future__ import annotations

import logging
import queue
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from shared import channels
from shared.bus import Bus, Received, model_decoder
from shared.config.model import Mqtt
from shared.logs import Log
from shared.messages import Event
from shared.runtime import ServiceLoop
from shared.topics import ServiceName, Topics
from tests.support.broker import Mosquitto
from tests.support.logs import fields_of
from tests.support.probe import Probe
from tests.support.processes import Service, write_config


class RunningBus:
    def __init__(self, broker: Mosquitto, host: str, service: ServiceName = "notifier") -> None:
        log = Log(f"test.{service}")
        self.loop = ServiceLoop(log)
        self.topics = Topics("warden", host)
        settings = Mqtt(
            host=broker.host,
            port=broker.port,
            keepalive_seconds=5,
            reconnect_min_seconds=0.2,
            reconnect_max_seconds=1,
        )
        self.bus = Bus(settings, self.topics, service, self.loop, log)
        self.received: queue.Queue[Received[Event]] = queue.Queue()
        self.connects = 0
        self.bus.subscribe(
            channels.EVENTS.topic_for(self.topics), model_decoder(Event), self.received.put
        )
        self.bus.on_connect(self._count)
        self._thread = threading.Thread(target=self.loop.run, daemon=True)

    def _count(self) -> None:
        self.connects += 1

    def start(self) -> RunningBus:
        self.bus.start()
        self._thread.start()
        return self

    def stop(self) -> None:
        self.loop.stop()
        self._thread.join(5)
        self.bus.stop()


@pytest.fixture
def running_bus(broker: Mosquitto, host_id: str) -> Iterator[RunningBus]:
    rb = RunningBus(broker, host_id).start()
    yield rb
    rb.stop()


def event(host: str, message: str = "hello") -> Event:
    return Event(host=host, kind="daemon_start", source="governor", message=message)


def test_online_on_connect_and_typed_delivery(
    running_bus: RunningBus, probe: Probe, host_id: str
) -> None:
    probe.wait_for(
        channels.AVAILABILITY.topic_for(running_bus.topics, service="notifier"),
        lambda s: s.text == "online",
    )
    probe.publish(channels.EVENTS.topic_for(running_bus.topics), event(host_id).model_dump_json())
    got = running_bus.received.get(timeout=10)
    assert got.value.message == "hello" and got.retained is False


def test_invalid_payloads_are_logged_and_dropped_and_the_loop_goes_on(
    running_bus: RunningBus, probe: Probe, host_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    probe.wait_for(
        channels.AVAILABILITY.topic_for(running_bus.topics, service="notifier"),
        lambda s: s.text == "online",
    )
    topic = channels.EVENTS.topic_for(running_bus.topics)
    for garbage in (
        b"{",
        b"[]",
        b"\xff\xfe",
        b'{"host": "x", "kind": "nope"}',
        event(host_id).model_dump_json().replace('"schema_version":1', '"schema_version":9'),
    ):
        probe.publish(topic, garbage)
    probe.publish(topic, event(host_id, "after the garbage").model_dump_json())
    got = running_bus.received.get(timeout=10)
    assert got.value.message == "after the garbage"
    assert running_bus.received.empty()
    dropped = [r for r in caplog.records if r.getMessage() == "bus.payload_dropped"]
    assert len(dropped) == 5
    reasons = " | ".join(fields_of(r)["reason"] for r in dropped)
    assert "Event: schema_version" in reasons and "Event: kind" in reasons


def test_handler_errors_do_not_stop_the_loop(broker: Mosquitto, probe: Probe, host_id: str) -> None:
    rb = RunningBus(broker, host_id)
    calls: list[str] = []

    def explode(received: Received[Event]) -> None:
        calls.append(received.value.message)
        raise RuntimeError("handler bug")

    rb.bus.subscribe(channels.EVENTS.topic_for(rb.topics), model_decoder(Event), explode)
    rb.start()
    try:
        probe.wait_for(
            channels.AVAILABILITY.topic_for(rb.topics, service="notifier"),
            lambda s: s.text == "online",
        )
        probe.publish(channels.EVENTS.topic_for(rb.topics), event(host_id, "one").model_dump_json())
        probe.publish(channels.EVENTS.topic_for(rb.topics), event(host_id, "two").model_dump_json())
        assert rb.received.get(timeout=10).value.message == "one"
        assert rb.received.get(timeout=10).value.message == "two"
        assert calls == ["one", "two"]
    finally:
        rb.stop()


def test_reconnects_and_resubscribes_after_a_broker_restart(
    own_broker: Mosquitto, host_id: str
) -> None:
    rb = RunningBus(own_broker, host_id).start()
    try:
        deadline = time.monotonic() + 10
        while rb.connects < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        own_broker.restart(down_for=1.0)
        deadline = time.monotonic() + 20
        while rb.connects < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert rb.connects == 2
        probe = Probe(own_broker.host, own_broker.port)
        try:
            # The restarted broker kept nothing: availability came back from the reconnect.
            probe.wait_for(
                channels.AVAILABILITY.topic_for(rb.topics, service="notifier"),
                lambda s: s.text == "online",
            )
            probe.publish(
                channels.EVENTS.topic_for(rb.topics),
                event(host_id, "after restart").model_dump_json(),
            )
            assert rb.received.get(timeout=10).value.message == "after restart"
        finally:
            probe.close()
    finally:
        rb.stop()


def _service_config(tmp_path: Path, broker: Mosquitto, host_id: str) -> Path:
    return write_config(
        tmp_path / "config.yaml",
        {
            "host_id": host_id,
            "mqtt": {"host": broker.host, "port": broker.port, "keepalive_seconds": 5},
        },
    )


@contextmanager
def notifier_online(
    tmp_path: Path, broker: Mosquitto, probe: Probe, host_id: str
) -> Iterator[tuple[Service, str]]:
    """A notifier the probe has seen come online, and its availability topic."""
    topic = f"warden/{host_id}/notifier/availability"
    service = Service("notifier", _service_config(tmp_path, broker, host_id), tmp_path)
    try:
        probe.wait_for(topic, lambda s: s.text == "online")
        yield service, topic
    finally:
        service.kill()


def test_last_will_says_offline_when_a_service_is_killed(
    tmp_path: Path, broker: Mosquitto, probe: Probe, host_id: str
) -> None:
    with notifier_online(tmp_path, broker, probe, host_id) as (service, topic):
        killed_at = time.monotonic()
        service.kill(signal.SIGKILL)
        probe.wait_for(topic, lambda s: s.text == "offline", after=killed_at)


def test_sigterm_is_a_clean_shutdown_that_says_offline(
    tmp_path: Path, broker: Mosquitto, probe: Probe, host_id: str
) -> None:
    with notifier_online(tmp_path, broker, probe, host_id) as (service, topic):
        stopped_at = time.monotonic()
        assert service.stop() == 0
        offline = probe.wait_for(topic, lambda s: s.text == "offline", after=stopped_at)
        assert offline.retained is False  # sent live by the service, not replayed
        assert "service.stopped" in service.output()


def test_a_service_started_before_its_broker_connects_when_it_comes(
    tmp_path: Path, host_id: str
) -> None:
    broker = Mosquitto(tmp_path)
    service = Service("notifier", _service_config(tmp_path, broker, host_id), tmp_path)
    try:
        time.sleep(1.5)  # it is retrying by now
        broker.start()
        probe = Probe(broker.host, broker.port)
        try:
            probe.wait_for(
                f"warden/{host_id}/notifier/availability", lambda s: s.text == "online", timeout=40
            )
        finally:
            probe.close()
    finally:
        service.kill()
        broker.stop()
