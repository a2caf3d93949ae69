"""The sensors process on real /proc/pressure and the real Docker engine."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from services.sensors.service import RELIST_SECONDS, must_relist, resample_delay
from shared.messages import ContainerInventory, PressureFact
from tests.support.broker import Mosquitto
from tests.support.docker_env import Containers
from tests.support.probe import Probe, Seen
from tests.support.processes import Service, wait_until, write_config


def test_publishes_pressure_and_inventory_and_follows_docker_events(
    tmp_path: Path, broker: Mosquitto, probe: Probe, containers: Containers, host_id: str
) -> None:
    existing = containers.run("bulk")
    config = write_config(
        tmp_path / "config.yaml",
        {
            "host_id": host_id,
            "mqtt": {"host": broker.host, "port": broker.port},
            # A slow poll: only Docker's event stream can deliver changes in time.
            "general": {"poll_interval_seconds": 600},
            "sensors": {"heartbeat_seconds": 600},
            "tiers": {
                1: {"containers": [containers.name("web")]},
                3: {"containers": [f"{containers.prefix}-bulk*"]},
            },
            "protected_containers": [containers.name("web")],
        },
    )
    inventory_topic = f"warden/{host_id}/sensors/containers"
    sensors = Service("sensors", config, tmp_path)
    try:
        pressure = PressureFact.model_validate_json(
            probe.wait_for(f"warden/{host_id}/sensors/pressure").payload
        )
        assert pressure.host == host_id
        if Path("/proc/pressure/memory").exists():
            assert (
                pressure.memory is not None and pressure.io is not None and pressure.cpu is not None
            )

        def has(name: str, state: str | None = None) -> Callable[[Seen], bool]:
            def check(seen: Seen) -> bool:
                inv = ContainerInventory.model_validate_json(seen.payload)
                return any(
                    c.name == name and (state is None or c.state == state) for c in inv.containers
                )

            return check

        seen = probe.wait_for(inventory_topic, has(containers.name("bulk")))
        inv = ContainerInventory.model_validate_json(seen.payload)
        bulk = next(c for c in inv.containers if c.id == existing)
        assert bulk.tier == 3 and bulk.state == "running" and not bulk.protected
        assert bulk.rss_bytes is not None and inv.cpu_count >= 1

        started = time.monotonic()
        containers.run("web")
        web = probe.wait_for(inventory_topic, has(containers.name("web"), "running"), after=started)
        fact = next(
            c
            for c in ContainerInventory.model_validate_json(web.payload).containers
            if c.name == containers.name("web")
        )
        assert fact.tier == 1 and fact.protected

        removed_at = time.monotonic()
        containers.api.remove_container(existing, force=True)
        probe.wait_for(
            inventory_topic, lambda s: not has(containers.name("bulk"))(s), after=removed_at
        )
    finally:
        sensors.stop()
    assert "Traceback" not in sensors.output()


def test_without_docker_the_inventory_is_unknown_not_empty(
    tmp_path: Path, broker: Mosquitto, probe: Probe, host_id: str
) -> None:
    config = write_config(
        tmp_path / "config.yaml",
        {
            "host_id": host_id,
            "mqtt": {"host": broker.host, "port": broker.port},
            "sensors": {
                "docker_url": f"unix://{tmp_path}/no-docker.sock",
                "heartbeat_seconds": 1,
            },
            "general": {"poll_interval_seconds": 1},
        },
    )
    sensors = Service("sensors", config, tmp_path)
    try:
        wait_until(lambda: "inventory.unavailable" in sensors.output(), what="a list tried")
        tried_at = time.monotonic()
        # Facts go out on one connection in order: a pressure heartbeat seen after the
        # failed list would come after any inventory that list had published.
        probe.wait_for(f"warden/{host_id}/sensors/pressure", after=tried_at + 0.5)
        assert probe.messages(f"warden/{host_id}/sensors/containers") == []
    finally:
        sensors.stop()


@pytest.mark.parametrize(
    ("now", "last", "delay"),
    [
        (10.0, float("-inf"), 0.0),  # never sampled: now
        (10.0, 9.0, 0.0),  # a second ago: now
        (10.0, 9.75, 0.0),  # exactly the shortest span a rate needs
        (10.0, 9.9, 0.15),  # just sampled: as soon as a rate means something
        (10.0, 10.0, 0.25),
    ],
)
def test_a_stall_samples_resources_at_once_or_as_soon_as_a_rate_is_worth_reading(
    now: float, last: float, delay: float
) -> None:
    assert resample_delay(now, last) == pytest.approx(delay)


@pytest.mark.parametrize(
    ("stream", "listed_with", "listed_ago", "relist"),
    [
        (3, 3, 5.0, False),  # the stream open when the list was taken brings every change
        (3, 3, RELIST_SECONDS, True),  # a resync all the same, now and then
        (None, None, 5.0, True),  # no stream: only a list knows
        (None, 3, 5.0, True),  # the stream is lost
        (4, 3, 5.0, True),  # a new stream: what happened between the two was missed
        (3, None, 5.0, True),  # listed before any stream opened
    ],
)
def test_the_poll_lists_docker_only_when_its_events_may_have_missed_something(
    stream: int | None, listed_with: int | None, listed_ago: float, relist: bool
) -> None:
    assert must_relist(stream, listed_with, listed_ago) is relist
