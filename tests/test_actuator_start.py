"""Building the actuator has no effects; start() is what subscribes, watches and arms timers."""

from __future__ import annotations

import threading
from pathlib import Path

from services.actuator.host_access import connect_host
from services.actuator.service import ActuatorService, start_actuator
from shared import channels
from tests.support.in_process import InProcess, RecordingBus, build, context
from tests.support.processes import write_config


def config(tmp_path: Path) -> Path:
    return write_config(
        tmp_path / "config.yaml",
        {
            "host_id": "start-test",
            "tiers": {3: {"containers": ["st-t3"]}},
            "actuator": {"dry_run": True, "state_file": str(tmp_path / "state.json")},
        },
    )


def event_threads() -> int:
    return sum(t.name == "docker-events" and t.is_alive() for t in threading.enumerate())


def test_construction_subscribes_to_nothing_and_starts_no_thread(tmp_path: Path) -> None:
    ctx = context("actuator", config(tmp_path), RecordingBus)
    assert isinstance(ctx.bus, RecordingBus)
    ctx.bus.published = []
    threads = event_threads()
    service = ActuatorService(ctx, connect_host(ctx))
    assert ctx.bus._subscriptions == []
    assert ctx.loop._timers == []
    assert event_threads() == threads
    assert service.dry_run and not service.started

    assert service.start() is service
    running = InProcess("actuator", service, ctx, ctx.bus, ctx.bus.published)
    try:
        assert len(ctx.bus._subscriptions) == 3
        assert len(ctx.loop._timers) == 2  # the startup grace and the resync; no groups
        assert event_threads() == threads + 1
    finally:
        running.stop()


def test_the_builder_the_runner_uses_is_connect_then_start(tmp_path: Path) -> None:
    running = build("actuator", config(tmp_path), start_actuator)
    try:
        assert isinstance(running.service, ActuatorService)
        assert {s.topic_filter for s in running.bus._subscriptions} == {
            channels.DESIRED.topic_for(running.ctx.topics),
            channels.ACTIONS.topic_for(running.ctx.topics),
            channels.AVAILABILITY.topic_for(running.ctx.topics, service="governor"),
        }
    finally:
        running.stop()
