"""Home Assistant's documented MQTT discovery schema, as a checker.

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
