"""Restarts: the actuator's own bounds (pure, a table) and real restarts through Docker."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from services.actuator.restart_policy import RestartBounds, restart_refusal
from shared.config.model import WardenConfig
from shared.messages import Action, Event, Reason
from tests.support.broker import Mosquitto
from tests.support.docker_env import Containers
from tests.support.probe import Probe, Seen
from tests.support.processes import Service, wait_until, write_config

MATCHER = WardenConfig.model_validate(
    {
        "tiers": {
            0: {"containers": ["pihole"]},
            1: {"containers": ["jellyfin"]},
            2: {"containers": ["sonarr"]},
            3: {"containers": ["tdarr*", "db"]},
        },
        "protected_containers": ["db"],
    }
).tier_matcher()
BOUNDS = RestartBounds(per_container_seconds=300, global_seconds=60)


EMERGENCY = [Reason(rule="memory_emergency_restart")]
CRITICAL = [Reason(rule="memory_critical_restart")]


@pytest.mark.parametrize(
    ("name", "last_of", "last_any", "now", "refused", "reasons"),
    [
        ("tdarr", {}, None, 1000, None, CRITICAL),
        ("jellyfin", {}, None, 1000, "tier 1: restarted never", EMERGENCY),
        ("sonarr", {}, None, 1000, "only for memory_emergency_restart", CRITICAL),
        ("sonarr", {}, None, 1000, None, EMERGENCY),
        ("pihole", {}, None, 1000, "protected", CRITICAL),
        ("db", {}, None, 1000, "protected", CRITICAL),
        ("stranger", {}, None, 1000, "not in any tier", CRITICAL),
        ("tdarr", {"tdarr": 800}, 800, 1000, "per-container limit: next in 100s", CRITICAL),
        ("tdarr", {"tdarr": 700}, 700, 1000, None, CRITICAL),  # exactly 300 s later
        ("tdarr_node", {"tdarr": 990}, 990, 1000, "global limit: next in 50s", CRITICAL),
        ("tdarr_node", {"tdarr": 940}, 940, 1000, None, CRITICAL),
    ],
)
def test_restart_bounds(
    name: str,
    last_of: dict[str, float],
    last_any: float | None,
    now: float,
    refused: str | None,
    reasons: list[Reason],
) -> None:
    reason = restart_refusal(name, reasons, MATCHER, last_of, last_any, now, BOUNDS)
    if refused is None:
        assert reason is None
    else:
        assert reason is not None and refused in reason


def started_at(containers: Containers, cid: str) -> str:
    return containers.api.inspect_container(cid)["State"]["StartedAt"]


def action(host_id: str, container: str, action_id: str) -> str:
    return Action(
        host=host_id,
        id=action_id,
        kind="restart",
        container=container,
        reasons=[Reason(rule="test")],
    ).model_dump_json()


def test_restart_actions_on_the_real_engine(
    tmp_path: Path, broker: Mosquitto, probe: Probe, containers: Containers, host_id: str
) -> None:
    bulk, other, db = containers.run("t3a"), containers.run("t3b"), containers.run("db")
    cfg = write_config(
        tmp_path / "config.yaml",
        {
            "host_id": host_id,
            "mqtt": {"host": broker.host, "port": broker.port},
            "tiers": {3: {"containers": [f"{containers.prefix}-t3*", containers.name("db")]}},
            "protected_containers": [containers.name("db")],
            "actuator": {
                "state_file": str(tmp_path / "state.json"),
                "startup_grace_seconds": 1,
                "restart_container_interval_seconds": 3600,
                "restart_global_interval_seconds": 3600,
            },
        },
    )
    actuator = Service("actuator", cfg, tmp_path)
    topic = f"warden/{host_id}/actions"
    refusals = f"warden/{host_id}/events"

    def refused(text: str) -> Callable[[Seen], bool]:
        return lambda s: text in Event.model_validate_json(s.payload).message

    try:
        probe.wait_for(f"warden/{host_id}/actuator/availability", lambda s: s.text == "online")
        first = started_at(containers, bulk)
        probe.publish(topic, action(host_id, containers.name("t3a"), "a" * 16))
        wait_until(lambda: started_at(containers, bulk) != first, what="the restart")
        restarted = started_at(containers, bulk)

        # The same action delivered again: nothing happens twice.
        probe.publish(topic, action(host_id, containers.name("t3a"), "a" * 16))
        wait_until(lambda: "action.duplicate" in actuator.output(), what="duplicate noticed")
        # Another container within the global gate: refused with the reason.
        probe.publish(topic, action(host_id, containers.name("t3b"), "b" * 16))
        probe.wait_for(refusals, refused("global limit"))
        # Protected and unknown containers: refused whatever the limits say.
        probe.publish(topic, action(host_id, containers.name("db"), "c" * 16))
        probe.wait_for(refusals, refused("protected"))
        probe.publish(topic, action(host_id, "not-configured", "d" * 16))
        probe.wait_for(refusals, refused("not in any tier"))
        assert started_at(containers, bulk) == restarted
        assert containers.state(other) == "running" and containers.state(db) == "running"

        # The history survives the actuator's own restart. Its log file is appended to:
        # only lines after the restart count, and only messages seen after it.
        duplicates = actuator.output().count("action.duplicate")
        actuator.kill(signal.SIGKILL)
        killed_at = time.monotonic()
        actuator = Service("actuator", cfg, tmp_path)
        probe.wait_for(
            f"warden/{host_id}/actuator/availability", lambda s: s.text == "online", after=killed_at
        )
        probe.publish(topic, action(host_id, containers.name("t3a"), "a" * 16))
        wait_until(
            lambda: actuator.output().count("action.duplicate") > duplicates,
            what="the same action, known after the restart",
        )
        # The global gate too: a new action for another container is still refused.
        probe.publish(topic, action(host_id, containers.name("t3b"), "e" * 16))
        probe.wait_for(refusals, refused("global limit"), after=killed_at)
        assert started_at(containers, bulk) == restarted
    finally:
        actuator.kill(signal.SIGTERM)
