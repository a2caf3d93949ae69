"""Every discovery payload against Home Assistant's documented MQTT discovery schema.

`check_discovery` is written from Home Assistant's MQTT docs (integrations/mqtt
"MQTT Discovery", and the sensor, binary_sensor, switch, button, select and
device_trigger MQTT pages): the topic format, abbreviations, the required keys
of each component, the `device`, `origin` and `availability` blocks, and
`default_entity_id` in place of the deprecated `object_id`, which may stay beside
it (naming the same entity) for Home Assistant releases before 2025.10.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from services.notifier.home_assistant.discovery import (
    DEVICE_TRIGGERS,
    build_entities,
    config_topic,
    configuration_url,
    discovery_messages,
)
from shared.config.model import WardenConfig

# --- the checker -----------------------------------------------------------------

# Abbreviations Home Assistant expands before validating (the subset any of these
# components can carry; an abbreviation not listed here is an unknown key).
ABBREVIATIONS = {
    "atype": "automation_type",
    "avty": "availability",
    "avty_mode": "availability_mode",
    "avty_t": "availability_topic",
    "avty_tpl": "availability_template",
    "cmd_t": "command_topic",
    "cmd_tpl": "command_template",
    "def_ent_id": "default_entity_id",
    "dev": "device",
    "dev_cla": "device_class",
    "e": "encoding",
    "en": "enabled_by_default",
    "ent_cat": "entity_category",
    "ent_pic": "entity_picture",
    "exp_aft": "expire_after",
    "frc_upd": "force_update",
    "ic": "icon",
    "json_attr_t": "json_attributes_topic",
    "json_attr_tpl": "json_attributes_template",
    "lrst_val_tpl": "last_reset_value_template",
    "o": "origin",
    "obj_id": "object_id",
    "off_dly": "off_delay",
    "opt": "optimistic",
    "ops": "options",
    "pl": "payload",
    "pl_avail": "payload_available",
    "pl_not_avail": "payload_not_available",
    "pl_off": "payload_off",
    "pl_on": "payload_on",
    "pl_prs": "payload_press",
    "ret": "retain",
    "stat_cla": "state_class",
    "stat_off": "state_off",
    "stat_on": "state_on",
    "stat_t": "state_topic",
    "stype": "subtype",
    "sug_dsp_prc": "suggested_display_precision",
    "t": "topic",
    "uniq_id": "unique_id",
    "unit_of_meas": "unit_of_measurement",
    "val_tpl": "value_template",
}
DEVICE_ABBREVIATIONS = {
    "cu": "configuration_url",
    "cns": "connections",
    "ids": "identifiers",
    "mf": "manufacturer",
    "mdl": "model",
    "mdl_id": "model_id",
    "hw": "hw_version",
    "sw": "sw_version",
    "sn": "serial_number",
    "sa": "suggested_area",
}
ORIGIN_ABBREVIATIONS = {"sw": "sw_version", "url": "support_url"}

DEVICE_KEYS = {
    "configuration_url",
    "connections",
    "hw_version",
    "identifiers",
    "manufacturer",
    "model",
    "model_id",
    "name",
    "serial_number",
    "suggested_area",
    "sw_version",
    "via_device",
}
ORIGIN_KEYS = {"name", "sw_version", "support_url"}
AVAILABILITY_KEYS = {"topic", "payload_available", "payload_not_available", "value_template"}

ENTITY_KEYS = {
    "availability",
    "availability_mode",
    "availability_template",
    "availability_topic",
    "default_entity_id",
    "device",
    "enabled_by_default",
    "encoding",
    "entity_category",
    "entity_picture",
    "icon",
    "json_attributes_template",
    "json_attributes_topic",
    "name",
    "object_id",
    "origin",
    "payload_available",
    "payload_not_available",
    "qos",
    "unique_id",
}
COMPONENT_KEYS: dict[str, set[str]] = {
    "sensor": ENTITY_KEYS
    | {
        "device_class",
        "expire_after",
        "force_update",
        "last_reset_value_template",
        "options",
        "state_class",
        "state_topic",
        "suggested_display_precision",
        "unit_of_measurement",
        "value_template",
    },
    "binary_sensor": ENTITY_KEYS
    | {
        "device_class",
        "expire_after",
        "force_update",
        "off_delay",
        "payload_off",
        "payload_on",
        "state_topic",
        "value_template",
    },
    "switch": ENTITY_KEYS
    | {
        "command_template",
        "command_topic",
        "device_class",
        "optimistic",
        "payload_off",
        "payload_on",
        "retain",
        "state_off",
        "state_on",
        "state_topic",
        "value_template",
    },
    "button": ENTITY_KEYS
    | {"command_template", "command_topic", "device_class", "payload_press", "retain"},
    "select": ENTITY_KEYS
    | {
        "command_template",
        "command_topic",
        "optimistic",
        "options",
        "retain",
        "state_topic",
        "value_template",
    },
    # Device triggers are not entities: no unique_id, name or availability.
    "device_automation": {
        "automation_type",
        "device",
        "encoding",
        "origin",
        "payload",
        "qos",
        "subtype",
        "topic",
        "type",
        "value_template",
    },
}
REQUIRED: dict[str, set[str]] = {
    "sensor": {"state_topic"},
    "binary_sensor": {"state_topic"},
    "switch": {"command_topic"},
    "button": {"command_topic"},
    "select": {"command_topic", "options"},
    "device_automation": {"automation_type", "topic", "type", "subtype", "device"},
}
DEVICE_CLASSES: dict[str, set[str]] = {
    "sensor": {
        "temperature",
        "power_factor",
        "data_size",
        "duration",
        "enum",
        "timestamp",
        "power",
        "energy",
        "humidity",
        "frequency",
    },
    "binary_sensor": {
        "connectivity",
        "heat",
        "problem",
        "running",
        "power",
        "safety",
        "update",
        "moving",
        "occupancy",
    },
    "switch": {"outlet", "switch"},
    "button": {"identify", "restart", "update"},
}
STATE_CLASSES = {"measurement", "measurement_angle", "total", "total_increasing"}
TEMPERATURE_UNITS = {"°C", "°F", "K"}
_ID = r"[a-zA-Z0-9_-]+"
_TOPIC = re.compile(rf"^(?P<component>{_ID})/(?:{_ID}/)?{_ID}/config$")
_ENTITY_ID = re.compile(r"^[a-z0-9_]+\.[a-z0-9_]+$")


def _expand(block: dict[str, Any], table: dict[str, str]) -> dict[str, Any]:
    return {table.get(k, k): v for k, v in block.items()}


def _publish_topic(value: object) -> bool:
    return isinstance(value, str) and bool(value) and not any(c in value for c in "+#")


def _subscribe_topic(value: object) -> bool:
    if not isinstance(value, str) or not value:
        return False
    levels = value.split("/")
    return all(
        ("+" not in lv or lv == "+") and ("#" not in lv or (lv == "#" and i == len(levels) - 1))
        for i, lv in enumerate(levels)
    )


def check_discovery(topic: str, raw: bytes | str, prefix: str = "homeassistant") -> list[str]:
    """What Home Assistant would refuse or mis-handle in this discovery message; [] if none."""
    errors: list[str] = []
    rest = topic[len(prefix) + 1 :] if topic.startswith(f"{prefix}/") else ""
    match = _TOPIC.match(rest)
    if not match:
        return [f"topic {topic!r} is not {prefix}/<component>/[<node_id>/]<object_id>/config"]
    component = match["component"]
    if component not in COMPONENT_KEYS:
        return [f"component {component!r} is not one this checker knows"]
    try:
        payload = json.loads(raw)
    except ValueError as exc:
        return [f"payload is not JSON: {exc}"]
    if not isinstance(payload, dict):
        return ["payload is not a JSON object"]
    if "~" in payload:
        base = payload.pop("~")
        payload = {
            k: (v.replace("~", base) if isinstance(v, str) and k.endswith("_t") else v)
            for k, v in payload.items()
        }
    payload = _expand(payload, ABBREVIATIONS)

    if "platform" in payload:
        errors.append("platform is only for device-based discovery payloads")
    unknown = set(payload) - COMPONENT_KEYS[component] - {"platform"}
    errors += [f"unknown key {k!r} for {component}" for k in sorted(unknown)]
    errors += [f"missing required {k!r}" for k in sorted(REQUIRED[component] - set(payload))]

    if "object_id" in payload:
        entity_id = payload.get("default_entity_id")
        if entity_id is None:
            errors.append("object_id is deprecated: use default_entity_id")
        elif f"{component}.{payload['object_id']}" != entity_id:
            errors.append(
                f"object_id {payload['object_id']!r} names another entity than {entity_id!r}"
            )
    if (entity_id := payload.get("default_entity_id")) is not None and (
        not isinstance(entity_id, str)
        or not _ENTITY_ID.match(entity_id)
        or entity_id.split(".")[0] != component
    ):
        errors.append(f"default_entity_id {entity_id!r} is not {component}.<object_id>")

    device = payload.get("device")
    if device is not None:
        if not isinstance(device, dict):
            errors.append("device is not a mapping")
        else:
            device = _expand(device, DEVICE_ABBREVIATIONS)
            errors += [f"unknown device key {k!r}" for k in sorted(set(device) - DEVICE_KEYS)]
            if not device.get("identifiers") and not device.get("connections"):
                errors.append("device needs identifiers or connections")
            url = device.get("configuration_url")
            if url is not None and not str(url).startswith(
                ("http://", "https://", "homeassistant://")
            ):
                errors.append(f"configuration_url {url!r} is not http(s) or homeassistant://")
            if component != "device_automation" and "unique_id" not in payload:
                errors.append("device is ignored without unique_id")
    origin = payload.get("origin")
    if origin is not None:
        origin = _expand(origin, ORIGIN_ABBREVIATIONS) if isinstance(origin, dict) else None
        if origin is None or not origin.get("name"):
            errors.append("origin needs a name")
        else:
            errors += [f"unknown origin key {k!r}" for k in sorted(set(origin) - ORIGIN_KEYS)]

    if "availability" in payload and "availability_topic" in payload:
        errors.append("availability and availability_topic must not be used together")
    for item in payload.get("availability", []):
        item = _expand(item, ABBREVIATIONS) if isinstance(item, dict) else {}
        if not _subscribe_topic(item.get("topic")):
            errors.append(f"availability entry without a valid topic: {item}")
        errors += [f"unknown availability key {k!r}" for k in set(item) - AVAILABILITY_KEYS]
    if payload.get("availability_mode", "latest") not in ("all", "any", "latest"):
        errors.append(f"availability_mode {payload['availability_mode']!r}")

    for key in ("state_topic", "json_attributes_topic", "availability_topic", "topic"):
        if key in payload and not _subscribe_topic(payload[key]):
            errors.append(f"{key} {payload[key]!r} is not a valid topic")
    if "command_topic" in payload and not _publish_topic(payload["command_topic"]):
        errors.append(f"command_topic {payload['command_topic']!r} is not a publish topic")
    if payload.get("qos", 0) not in (0, 1, 2):
        errors.append(f"qos {payload['qos']!r}")
    category = payload.get("entity_category")
    if category is not None and category not in ("config", "diagnostic"):
        errors.append(f"entity_category {category!r}")
    if component in ("sensor", "binary_sensor") and category == "config":
        errors.append(f"a {component} cannot be a config entity")
    if (cls := payload.get("device_class")) is not None and cls not in DEVICE_CLASSES.get(
        component, set()
    ):
        errors.append(f"device_class {cls!r} is not one of {component}'s")
    if component == "sensor":
        state_class = payload.get("state_class")
        if state_class is not None and state_class not in STATE_CLASSES:
            errors.append(f"state_class {state_class!r}")
        if (
            payload.get("device_class") == "temperature"
            and payload.get("unit_of_measurement") not in TEMPERATURE_UNITS
        ):
            errors.append("a temperature needs °C, °F or K")
    if component == "select":
        options = payload.get("options")
        if (
            not isinstance(options, list)
            or not options
            or not all(isinstance(o, str) for o in options)
        ):
            errors.append("options must be a non-empty list of strings")
    if component == "device_automation" and payload.get("automation_type") != "trigger":
        errors.append("automation_type must be 'trigger'")
    return errors


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
}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_every_payload_passes_the_schema(name: str) -> None:
    cfg = CONFIGS[name]
    messages = discovery_messages(cfg, cfg.host_id, "1.2.3")
    assert len(messages) == 31
    for topic, payload in messages.items():
        raw = json.dumps(payload, ensure_ascii=False)
        assert check_discovery(topic, raw, cfg.home_assistant.discovery_prefix) == [], topic


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
    "paused_containers": (
        "sensor",
        None,
        "containers",
        "measurement",
        None,
        ["notifier", "actuator"],
    ),
    "throttled_containers": (
        "sensor",
        None,
        "containers",
        "measurement",
        None,
        ["notifier", "actuator"],
    ),
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
    assert switch["state_topic"] == "warden/nas/desired"
    assert "media_forced" in switch["value_template"]
    assert (switch["state_on"], switch["state_off"]) == ("ON", "OFF")
    preset = entities["preset"].config
    assert preset["options"] == ["Conservative", "Balanced", "Aggressive"]
    assert (preset["command_topic"], preset["state_topic"]) == (
        "warden/nas/preset/set",
        "warden/nas/preset",
    )


def test_device_and_origin() -> None:
    for cfg, url in (
        (CONFIGS["default"], None),
        (CONFIGS["custom prefix, odd host id, public http"], "http://192.168.1.5:8765/status"),
        (WardenConfig(general={"http_server": {"enabled": False, "host": "10.0.0.2"}}), None),
        (WardenConfig(home_assistant={"configuration_url": "https://nas.lan/warden"}), None),
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
    """The README's copy-paste automations name real entities and send accepted triggers."""
    import yaml

    from shared.messages import parse_trigger
    from tests.support.processes import REPO

    section = (REPO / "README.md").read_text().split("## Home Assistant", 1)[1]
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
