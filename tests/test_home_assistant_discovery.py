"""Every discovery payload against Home Assistant's documented MQTT discovery schema.

The schema and its checker, `check_discovery`, are in tests/support/ha_schema.py;
the first tests here show the checker refuses what Home Assistant refuses.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from services.notifier.home_assistant.discovery import (
    build_entities,
    config_topic,
    configuration_url,
    discovery_messages,
)
from services.notifier.home_assistant.entities import DEVICE_TRIGGERS
from shared.config.model import WardenConfig
from tests.support.ha_schema import check_discovery

# --- the checker is real: it refuses what Home Assistant refuses ---------------------

GOOD = {
    "name": "Temp",
    "unique_id": "u1",
    "state_topic": "a/b",
    "device": {"identifiers": ["d"]},
    "origin": {"name": "Warden"},
}


@pytest.mark.parametrize(
    ("topic", "payload", "error"),
    [
        ("homeassistant/sensor/node/u1/config", GOOD, None),
        ("homeassistant/sensor/u1/config", GOOD, None),
        ("homeassistant/sensor/no de/u1/config", GOOD, "is not homeassistant/"),
        ("homeassistant/sensor/node/u1/state", GOOD, "is not homeassistant/"),
        ("other/sensor/node/u1/config", GOOD, "is not homeassistant/"),
        ("homeassistant/sensor/n/u1/config", {**GOOD, "state_topic": None}, "state_topic"),
        ("homeassistant/sensor/n/u1/config", {"name": "x"}, "missing required 'state_topic'"),
        ("homeassistant/sensor/n/u1/config", {**GOOD, "objectid": "x"}, "unknown key"),
        ("homeassistant/sensor/n/u1/config", {**GOOD, "object_id": "x"}, "deprecated"),
        (
            "homeassistant/sensor/n/u1/config",
            {**GOOD, "default_entity_id": "sensor.y", "object_id": "x"},
            "names another entity",
        ),
        ("homeassistant/sensor/n/u1/config", {**GOOD, "platform": "mqtt"}, "platform"),
        (
            "homeassistant/sensor/n/u1/config",
            {**GOOD, "default_entity_id": "binary_sensor.x"},
            "default_entity_id",
        ),
        ("homeassistant/sensor/n/u1/config", {**GOOD, "device": {"name": "x"}}, "identifiers"),
        ("homeassistant/sensor/n/u1/config", {**GOOD, "origin": {"sw": "1"}}, "origin needs"),
        (
            "homeassistant/sensor/n/u1/config",
            {**GOOD, "availability": [{"payload_available": "on"}]},
            "availability entry",
        ),
        (
            "homeassistant/sensor/n/u1/config",
            {**GOOD, "availability": [{"topic": "a"}], "availability_topic": "a"},
            "together",
        ),
        ("homeassistant/sensor/n/u1/config", {**GOOD, "entity_category": "config"}, "config"),
        (
            "homeassistant/sensor/n/u1/config",
            {**GOOD, "device_class": "temperature", "unit_of_measurement": "C"},
            "°C",
        ),
        ("homeassistant/sensor/n/u1/config", {**GOOD, "state_class": "average"}, "state_class"),
        ("homeassistant/switch/n/u1/config", {**GOOD}, "command_topic"),
        (
            "homeassistant/button/n/u1/config",
            {**GOOD, "command_topic": "a/+"},
            "not a publish topic",
        ),
        ("homeassistant/select/n/u1/config", {**GOOD, "command_topic": "a", "options": []}, "opt"),
        # abbreviations expand before validation
        (
            "homeassistant/sensor/n/u1/config",
            {"uniq_id": "u", "stat_t": "s", "dev": {"ids": "d"}, "o": {"name": "W"}},
            None,
        ),
        (
            "homeassistant/device_automation/n/t/config",
            {"automation_type": "trigger", "topic": "t", "type": "x", "subtype": "y"},
            "missing required 'device'",
        ),
        (
            "homeassistant/device_automation/n/t/config",
            {
                "automation_type": "trigger",
                "topic": "t",
                "type": "x",
                "subtype": "y",
                "device": {"identifiers": ["d"]},
                "unique_id": "u",
            },
            "unknown key 'unique_id'",
        ),
    ],
)
def test_checker_refuses_what_home_assistant_refuses(
    topic: str, payload: dict[str, Any], error: str | None
) -> None:
    errors = check_discovery(topic, json.dumps(payload))
    if error is None:
        assert errors == []
    else:
        assert any(error in e for e in errors), errors


# --- Warden's payloads ----------------------------------------------------------------

CONFIGS = {
    "default": WardenConfig(host_id="nas"),
    "custom prefix, odd host id, public http": WardenConfig.model_validate(
        {
            "host_id": "Media.Box",
            "home_assistant": {"discovery_prefix": "ha/discovery", "device_name": "Media box"},
            "general": {"http_server": {"host": "192.168.1.5", "port": 8765}},
            "mqtt": {"topic_root": "home/warden"},
        }
    ),
    "two schedules": WardenConfig.model_validate(
        {
            "host_id": "nas",
            "schedules": [
                {
                    "name": "night-work",
                    "windows": [{"start": "23:00", "end": "07:00"}],
                    "mode": "run_inside",
                    "tiers": [3],
                },
                {
                    "name": "quiet",
                    "windows": [{"start": "20:00", "end": "22:00"}],
                    "mode": "quiet_inside",
                },
            ],
        }
    ),
}
# Each schedule adds a switch, a skip button and a next-change sensor.
# The last incident sensor and its device trigger among them; each schedule adds three.
COUNTS = {"default": 33, "custom prefix, odd host id, public http": 33, "two schedules": 39}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_every_payload_passes_the_schema(name: str) -> None:
    cfg = CONFIGS[name]
    messages = discovery_messages(cfg, cfg.host_id, "1.2.3")
    assert len(messages) == COUNTS[name]
    for topic, payload in messages.items():
        raw = json.dumps(payload, ensure_ascii=False)
        assert check_discovery(topic, raw, cfg.home_assistant.discovery_prefix) == [], topic


# The paused and the throttled containers are counted alike.
CONTAINER_COUNT = ("sensor", None, "containers", "measurement", None, ["notifier", "actuator"])
EXPECTED = {
    # key: (component, device_class, unit, state_class, entity_category, availability services)
    "memory_some_avg10": ("sensor", None, "%", "measurement", None, ["sensors"]),
    "memory_full_avg10": ("sensor", None, "%", "measurement", None, ["sensors"]),
    "io_some_avg10": ("sensor", None, "%", "measurement", None, ["sensors"]),
    "io_full_avg10": ("sensor", None, "%", "measurement", None, ["sensors"]),
    "cpu_some_avg10": ("sensor", None, "%", "measurement", None, ["sensors"]),
    "cpu_full_avg10": ("sensor", None, "%", "measurement", None, ["sensors"]),
    "hottest_temperature": ("sensor", "temperature", "°C", "measurement", None, ["sensors"]),
    "gpu_utilization": ("sensor", None, "%", "measurement", None, ["sensors"]),
    "gpu_temperature": ("sensor", "temperature", "°C", "measurement", None, ["sensors"]),
    "active_streams": ("sensor", None, "streams", "measurement", None, ["sensors"]),
    "paused_containers": CONTAINER_COUNT,
    "throttled_containers": CONTAINER_COUNT,
    "media_mode": ("binary_sensor", None, None, None, None, ["governor"]),
    "thermal_stage1": ("binary_sensor", "heat", None, None, None, ["notifier", "governor"]),
    "thermal_stage2": ("binary_sensor", "heat", None, None, None, ["notifier", "governor"]),
    "sensors_online": ("binary_sensor", "connectivity", None, None, "diagnostic", []),
    "governor_online": ("binary_sensor", "connectivity", None, None, "diagnostic", []),
    "actuator_online": ("binary_sensor", "connectivity", None, None, "diagnostic", []),
    "notifier_online": ("binary_sensor", "connectivity", None, None, "diagnostic", []),
    "media_mode_override": ("switch", None, None, None, None, ["governor"]),
    "tier3_pause": ("button", None, None, None, None, ["governor"]),
    "tier3_resume": ("button", None, None, None, None, ["governor"]),
    "republish_discovery": ("button", None, None, None, "config", ["notifier"]),
    "preset": ("select", None, None, None, "config", ["governor"]),
    "last_decision": ("sensor", None, None, None, "diagnostic", ["governor"]),
    "last_incident": ("sensor", None, None, None, None, ["governor"]),
}


@pytest.mark.parametrize("key", list(EXPECTED))
def test_entity_table(key: str) -> None:
    entity = build_entities(CONFIGS["default"], "nas", "1.2.3")[key]
    component, device_class, unit, state_class, category, services = EXPECTED[key]
    c = entity.config
    assert entity.component == component
    assert (c.get("device_class"), c.get("unit_of_measurement")) == (device_class, unit)
    assert (c.get("state_class"), c.get("entity_category")) == (state_class, category)
    assert [a["topic"] for a in c.get("availability", [])] == [
        f"warden/nas/{s}/availability" for s in services
    ]
    if services:
        assert c["availability_mode"] == "all"
    # Stable across container recreation and restarts: host id and entity key only.
    assert c["unique_id"] == f"warden_nas_{key}"
    assert c["default_entity_id"] == f"{component}.warden_nas_{key}"
    # Home Assistant before 2025.10 builds the entity id from object_id alone.
    assert c["object_id"] == f"warden_nas_{key}"


def test_commands_are_what_the_governor_takes() -> None:
    from shared.messages import parse_trigger

    entities = build_entities(CONFIGS["default"], "nas", "1.2.3")
    switch = entities["media_mode_override"].config
    sent = [switch["payload_on"], switch["payload_off"]]
    sent += [entities[k].config["payload_press"] for k in ("tier3_pause", "tier3_resume")]
    assert [parse_trigger(p.encode()).event for p in sent] == [
        "media_start",
        "media_stop",
        "tier3_pause",
        "tier3_resume",
    ]
    for key in ("media_mode_override", "tier3_pause", "tier3_resume"):
        assert entities[key].config["command_topic"] == "warden/nas/trigger"
    # The switch's state is the governor's own record of the override, not a guess.
    assert switch["state_topic"] == "warden/nas/governor/memory"
    assert "media_forced" in switch["value_template"]
    assert (switch["state_on"], switch["state_off"]) == ("ON", "OFF")
    preset = entities["preset"].config
    assert preset["options"] == ["Conservative", "Balanced", "Aggressive"]
    assert (preset["command_topic"], preset["state_topic"]) == (
        "warden/nas/preset/set",
        "warden/nas/preset",
    )


def test_a_schedules_switch_button_and_next_change() -> None:
    from shared.messages import parse_trigger

    entities = build_entities(CONFIGS["two schedules"], "nas", "1.2.3")
    switch = entities["schedule_night_work"]
    assert switch.component == "switch"
    c = switch.config
    on, off = parse_trigger(c["payload_on"].encode()), parse_trigger(c["payload_off"].encode())
    assert (on.event, on.schedule, off.event, off.schedule) == (
        "schedule_on",
        "night-work",
        "schedule_off",
        "night-work",
    )
    assert (c["command_topic"], c["state_topic"]) == (
        "warden/nas/trigger",
        "warden/nas/governor/memory",
    )
    skip = entities["schedule_night_work_skip"].config
    pressed = parse_trigger(skip["payload_press"].encode())
    assert (pressed.event, pressed.schedule) == ("schedule_skip", "night-work")
    sensor = entities["schedule_night_work_next_change"]
    assert (sensor.component, sensor.config["device_class"]) == ("sensor", "timestamp")


def test_device_and_origin() -> None:
    for cfg, url in (
        (CONFIGS["default"], None),
        (CONFIGS["custom prefix, odd host id, public http"], "http://192.168.1.5:8765/status"),
        (
            WardenConfig.model_validate(
                {"general": {"http_server": {"enabled": False, "host": "10.0.0.2"}}}
            ),
            None,
        ),
        (
            WardenConfig.model_validate(
                {"home_assistant": {"configuration_url": "https://nas.lan/warden"}}
            ),
            None,
        ),
    ):
        assert configuration_url(cfg) == (url or cfg.home_assistant.configuration_url)
    entity = build_entities(CONFIGS["custom prefix, odd host id, public http"], "Media.Box", "9")
    device = entity["media_mode"].config["device"]
    assert device == {
        "identifiers": ["warden_media_box"],
        "name": "Media box",
        "manufacturer": "Warden",
        "model": "Warden resource governor",
        "sw_version": "9",
        "configuration_url": "http://192.168.1.5:8765/status",
    }
    assert entity["media_mode"].config["origin"] == {"name": "Warden", "sw_version": "9"}
    assert entity["media_mode"].config["state_topic"] == "home/warden/Media.Box/desired"
    assert (
        config_topic("ha/discovery", "binary_sensor", "Media.Box", "media_mode")
        == "ha/discovery/binary_sensor/warden_media_box/media_mode/config"
    )


def test_device_triggers_one_per_event_kind() -> None:
    entities = build_entities(CONFIGS["default"], "nas", "1")
    triggers = {k: e.config for k, e in entities.items() if e.component == "device_automation"}
    assert sorted(triggers) == sorted(f"event_{kind}" for kind in DEVICE_TRIGGERS)
    pairs = [(t["type"], t["subtype"]) for t in triggers.values()]
    assert len(set(pairs)) == len(pairs), "type+subtype must be unique per device"
    for kind in DEVICE_TRIGGERS:
        assert triggers[f"event_{kind}"]["topic"] == f"warden/nas/ha/event/{kind}"
        # Fires on any payload on its own topic: no payload filter to get wrong.
        assert "payload" not in triggers[f"event_{kind}"]


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        # a value the host cannot report renders None (unknown in Home Assistant), never 0
        ("memory_full_avg10", "else None"),
        ("hottest_temperature", "is number else None"),
        ("gpu_utilization", "if v else None"),
        ("active_streams", "is number else None"),
        ("thermal_stage1", "is number else None"),
    ],
)
def test_templates_show_unknown_not_zero(key: str, expected: str) -> None:
    template = build_entities(CONFIGS["default"], "nas", "1")[key].config["value_template"]
    assert expected in template
    assert "| float" not in template and "| int" not in template  # those turn null into 0


def test_readme_automations_use_what_warden_offers() -> None:
    """The documentation's copy-paste automations name real entities and send accepted
    triggers."""
    import yaml

    from shared.messages import parse_trigger
    from tests.support.processes import REPO

    section = (REPO / "docs" / "guides" / "home-assistant.md").read_text()
    section = section.split("\n## ", 1)[0]
    blocks = re.findall(r"```yaml\n(.*?)```", section, flags=re.S)
    automations = [a for block in blocks for a in yaml.safe_load(block)]
    assert len(automations) == 4
    entity_ids = {
        e.config["default_entity_id"]
        for e in build_entities(CONFIGS["default"], "nas", "1").values()
        if "default_entity_id" in e.config
    }
    named = set()
    for automation in automations:
        for trigger in automation["triggers"]:
            if trigger["trigger"] == "mqtt":
                assert trigger["topic"] == "warden/nas/ha/notify"
            elif trigger["entity_id"].startswith("binary_sensor.warden"):
                named.add(trigger["entity_id"])
        for action in automation["actions"]:
            if action["action"] == "mqtt.publish":
                assert action["data"]["topic"] == "warden/nas/trigger"
                parse_trigger(str(action["data"]["payload"]).encode())
            if "target" in action:
                named.add(action["target"]["entity_id"])
    assert named and named <= entity_ids


def test_behind_a_bridge_every_entity_is_unavailable_when_the_host_is_gone() -> None:
    cfg = WardenConfig.model_validate(
        {"host_id": "nas", "bridge": {"enabled": True, "address": "central.lan"}}
    )
    bridge = {"topic": "warden/nas/bridge/availability", "payload_available": "1"}
    for key, entity in build_entities(cfg, "nas", "1.2.3").items():
        if entity.component == "device_automation":
            continue  # a trigger has no availability in Home Assistant
        entries = entity.config["availability"]
        assert entity.config["availability_mode"] == "all", key
        assert any(bridge.items() <= e.items() for e in entries), key
    for topic, payload in discovery_messages(cfg, "nas", "1.2.3").items():
        assert check_discovery(topic, json.dumps(payload)) == [], topic
