"""Warden as a Home Assistant device, end to end: real Mosquitto, real service processes.

The probe plays Home Assistant: it reads the retained discovery configs, sends
the birth message, presses the entities' buttons by publishing what their
configs say, and, as a Home Assistant that just (re)started would, subscribes
afresh and checks nothing it needs is missing, the most common failure of MQTT
bridges being entities left unavailable after a Home Assistant or broker restart.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from jinja2.sandbox import ImmutableSandboxedEnvironment

from services.notifier.home_assistant.discovery import config_topic, discovery_messages
from shared.config.model import WardenConfig
from shared.messages import (
    ContainerFact,
    ContainerInventory,
    DesiredState,
    Event,
    GovernorMemory,
    LastDecision,
)
from tests.support.broker import Mosquitto
from tests.support.ha_schema import check_discovery
from tests.support.probe import Probe
from tests.support.processes import Service, write_config


def ha_config(tmp_path: Path, broker: Mosquitto, host_id: str) -> Path:
    return write_config(
        tmp_path / "config.yaml",
        {
            "host_id": host_id,
            "mqtt": {
                "host": broker.host,
                "port": broker.port,
                "keepalive_seconds": 5,
                "reconnect_min_seconds": 0.2,
                "reconnect_max_seconds": 1,
            },
            "tiers": {3: {"containers": ["tdarr"], "cpu_weight": 10}},
            "media_mode": {"enabled": True, "provider": "webhook", "cooldown_seconds": 0},
            "governor": {"lease_seconds": 6, "renew_seconds": 2},
            "home_assistant": {"republish_delay_seconds": 0.5},
            "notifications": {"outbox_file": str(tmp_path / "outbox.json")},
        },
    )


def expected_configs(host_id: str) -> dict[str, dict[str, Any]]:
    return discovery_messages(WardenConfig(host_id=host_id), host_id, "0")


def wait_for_all_configs(probe: Probe, host_id: str, after: float = 0.0) -> None:
    for topic in expected_configs(host_id):
        seen = probe.wait_for(topic, lambda s: bool(s.payload), after=after)
        assert check_discovery(topic, seen.payload) == [], topic


@pytest.fixture
def services() -> Iterator[list[Service]]:
    started: list[Service] = []
    yield started
    for service in started:
        service.kill(signal.SIGTERM)
    for service in started:
        assert "Traceback" not in service.output(), f"{service.name}:\n{service.output()}"


def test_device_at_start_cleared_leftovers_birth_and_button(
    tmp_path: Path, broker: Mosquitto, probe: Probe, host_id: str, services: list[Service]
) -> None:
    # Left by an earlier version, for an entity this one no longer has.
    stale = config_topic("homeassistant", "sensor", host_id, "retired_entity")
    probe.publish(stale, json.dumps({"name": "old", "state_topic": "x"}), retain=True)

    services.append(Service("notifier", ha_config(tmp_path, broker, host_id), tmp_path))
    wait_for_all_configs(probe, host_id)
    probe.wait_for(stale, lambda s: s.payload == b"")
    state = probe.wait_for(f"warden/{host_id}/ha/state")
    assert json.loads(state.payload) == {"paused": None, "throttled": None, "thermal_stage": None}

    # Home Assistant restarts: its birth message brings everything again.
    born = time.monotonic()
    probe.publish("homeassistant/status", "online")
    wait_for_all_configs(probe, host_id, after=born)
    probe.wait_for(f"warden/{host_id}/ha/state", after=born)

    # ... and so does the button on the device page.
    pressed = time.monotonic()
    button = expected_configs(host_id)[
        config_topic("homeassistant", "button", host_id, "republish_discovery")
    ]
    probe.publish(button["command_topic"], button["payload_press"])
    wait_for_all_configs(probe, host_id, after=pressed)

    # A Home Assistant that subscribes now finds every config, and the notifier online.
    fresh = Probe(broker.host, broker.port, subscribe=f"homeassistant/+/warden_{host_id}/#")
    try:
        wait_for_all_configs(fresh, host_id)
        assert [s.payload for s in fresh.messages(stale)] in ([], [b""])
    finally:
        fresh.close()
    probe.wait_for(f"warden/{host_id}/notifier/availability", lambda s: s.text == "online")


def test_broker_restart_brings_back_configs_and_availability(
    tmp_path: Path, own_broker: Mosquitto, host_id: str, services: list[Service]
) -> None:
    probe = Probe(own_broker.host, own_broker.port)
    try:
        config = ha_config(tmp_path, own_broker, host_id)
        services += [Service(n, config, tmp_path) for n in ("notifier", "governor")]
        wait_for_all_configs(probe, host_id)
        for name in ("notifier", "governor"):
            probe.wait_for(f"warden/{host_id}/{name}/availability", lambda s: s.text == "online")

        # No persistence: the broker comes back having forgotten every retained message.
        restarted = time.monotonic()
        own_broker.restart()
        wait_for_all_configs(probe, host_id, after=restarted)
    finally:
        probe.close()

    # Home Assistant, reconnecting, must find configs, availability and state all there.
    ha = Probe(own_broker.host, own_broker.port)
    try:
        wait_for_all_configs(ha, host_id)
        for name in ("notifier", "governor"):
            ha.wait_for(f"warden/{host_id}/{name}/availability", lambda s: s.text == "online")
        ha.wait_for(f"warden/{host_id}/ha/state")
        ha.wait_for(f"warden/{host_id}/desired")

        # A service that dies takes its entities with it: its last will says offline.
        media = expected_configs(host_id)[
            config_topic("homeassistant", "binary_sensor", host_id, "media_mode")
        ]
        governor_availability = f"warden/{host_id}/governor/availability"
        assert [a["topic"] for a in media["availability"]] == [governor_availability]
        killed = time.monotonic()
        services[1].kill(signal.SIGKILL)
        ha.wait_for(governor_availability, lambda s: s.text == "offline", after=killed)
    finally:
        ha.close()


def test_entities_drive_the_governor_and_events_reach_home_assistant(
    tmp_path: Path, broker: Mosquitto, probe: Probe, host_id: str, services: list[Service]
) -> None:
    config = ha_config(tmp_path, broker, host_id)
    services += [Service(n, config, tmp_path) for n in ("notifier", "governor")]
    configs = expected_configs(host_id)
    wait_for_all_configs(probe, host_id)
    probe.wait_for(f"warden/{host_id}/governor/availability", lambda s: s.text == "online")
    inventory = ContainerInventory(
        host=host_id,
        cpu_count=4,
        containers=[ContainerFact(id="a" * 64, name="tdarr", state="running", tier=3)],
    )
    probe.publish(f"warden/{host_id}/sensors/containers", inventory.model_dump_json(), retain=True)

    def send(topic: str, payload: str) -> float:
        sent = time.monotonic()
        probe.publish(topic, payload)
        return sent

    def switch_shows(switch: dict[str, Any], state: str, after: float) -> None:
        """The switch's state, as Home Assistant renders it from the topic it reads."""
        template = ImmutableSandboxedEnvironment().from_string(switch["value_template"])
        probe.wait_for(
            switch["state_topic"],
            lambda s: template.render(value_json=json.loads(s.payload)).strip() == state,
            after=after,
        )

    def manual_pause(on: bool, after: float) -> None:
        probe.wait_for(
            f"warden/{host_id}/governor/memory",
            lambda s: (
                GovernorMemory.model_validate_json(s.payload).switches.tier3_manual_pause is on
            ),
            after=after,
        )

    def desired(predicate: Callable[[DesiredState], bool], after: float) -> DesiredState:
        seen = probe.wait_for(
            f"warden/{host_id}/desired",
            lambda s: predicate(DesiredState.model_validate_json(s.payload)),
            after=after,
        )
        return DesiredState.model_validate_json(seen.payload)

    # The switch, as Home Assistant turns it on: its payload_on on its command_topic.
    switch = configs[config_topic("homeassistant", "switch", host_id, "media_mode_override")]
    sent = send(switch["command_topic"], switch["payload_on"])
    on = desired(lambda d: "tdarr" in d.containers, sent)
    assert on.containers["tdarr"].paused
    switch_shows(switch, "ON", sent)

    # The device trigger's topic fired, and Home Assistant's notify path got the message.
    fired = probe.wait_for(f"warden/{host_id}/ha/event/media_mode_activated")
    assert Event.model_validate_json(fired.payload).kind == "media_mode_activated"
    told = json.loads(
        probe.wait_for(
            f"warden/{host_id}/ha/notify", lambda s: b"media_mode_activated" in s.payload
        ).payload
    )
    assert told["title"] == f"Warden ({host_id}): Media Mode Activated" and told["message"]

    # The last decision, retained, with its reason.
    decision = LastDecision.model_validate_json(
        probe.wait_for(
            f"warden/{host_id}/governor/decision", lambda s: b"tdarr" in s.payload
        ).payload
    )
    assert (decision.container, decision.action) == ("tdarr", "enforce")
    assert decision.summary.startswith("tdarr: paused") and decision.reasons

    sent = send(switch["command_topic"], switch["payload_off"])
    desired(lambda d: not d.containers, sent)
    switch_shows(switch, "OFF", sent)
    probe.wait_for(f"warden/{host_id}/ha/event/media_mode_deactivated", after=sent)

    # The buttons: what Home Assistant publishes when they are pressed.
    pause = configs[config_topic("homeassistant", "button", host_id, "tier3_pause")]
    sent = send(pause["command_topic"], pause["payload_press"])
    desired(lambda d: "tdarr" in d.containers and d.containers["tdarr"].paused, sent)
    manual_pause(True, sent)
    resume = configs[config_topic("homeassistant", "button", host_id, "tier3_resume")]
    sent = send(resume["command_topic"], resume["payload_press"])
    desired(lambda d: not d.containers, sent)
    manual_pause(False, sent)

    # What a Home Assistant automation sends with mqtt.publish: JSON body or bare word.
    sent = send(f"warden/{host_id}/trigger", json.dumps({"event": "tier3_pause"}))
    manual_pause(True, sent)
    sent = send(f"warden/{host_id}/trigger", '"tier3_resume"')
    manual_pause(False, sent)
    probe.publish(f"warden/{host_id}/sensors/containers", b"", retain=True)
