"""The entities Warden announces to Home Assistant, as one table: each with the topic it
reads (one of the host's, by name: HOST_TOPICS in discovery.py) and its templates, and
per schedule its switch, skip button and next-change sensor. Pure data.

The rows about rules (the thermal stages, the restart triggers) are written here, not
read from the governor's rule catalogue: they are announced at the notifier's start,
from its config alone, and their keys are in people's automations."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from shared.config.model import WardenConfig
from shared.presets import PRESET_NAMES, display_name
from shared.topics import OFFLINE, ONLINE, ServiceName

Component = Literal["sensor", "binary_sensor", "switch", "button", "select", "device_automation"]

REPUBLISH_PAYLOAD = "republish"

# Event kinds offered as device triggers: (type, subtype) as the automation editor shows them.
DEVICE_TRIGGERS: dict[str, tuple[str, str]] = {
    "media_mode_activated": ("turned_on", "media_mode"),
    "media_mode_deactivated": ("turned_off", "media_mode"),
    "thermal_stage1": ("entered", "thermal_stage_1"),
    "thermal_stage2": ("entered", "thermal_stage_2"),
    "memory_critical_restart": ("restarted_container", "memory_critical"),
    "memory_emergency_restart": ("restarted_container", "memory_emergency"),
    # When one opens (its close is an `incident` event too, but no trigger).
    "incident": ("opened", "incident"),
}


def _number(expr: str) -> str:
    # `is number` is false for null and for a missing key alike: both render None (unknown).
    return f"{{% set v = {expr} %}}{{{{ v if v is number else None }}}}"


def _psi(resource: str, line: str) -> str:
    return (
        f"{{% set r = value_json.{resource} %}}"
        f"{{% set l = r.{line} if r else None %}}"
        "{{ l.avg10 if l and l.avg10 is number else None }}"
    )


def _max_over_gpus(field: str) -> str:
    return (
        "{% set v = (value_json.gpus or []) "
        f"| map(attribute='{field}') | select('number') | list %}}"
        "{{ v | max if v else None }}"
    )


def _on_off(condition: str, known: str = "true") -> str:
    return f"{{{{ ('ON' if {condition} else 'OFF') if {known} else None }}}}"


@dataclass(frozen=True)
class EntitySpec:
    """One row of the entity table. A `*_topic` field names one of the host's topics
    (HOST_TOPICS); everything else goes into the discovery config as it is."""

    component: Component
    key: str
    name: str
    # Whose availability the entity follows (all of them must be online).
    services: tuple[ServiceName, ...]
    fields: dict[str, Any]


def _spec(
    component: Component, key: str, name: str, services: tuple[ServiceName, ...], **fields: Any
) -> EntitySpec:
    return EntitySpec(component, key, name, services, fields)


SERVICES: tuple[ServiceName, ...] = ("sensors", "governor", "actuator", "notifier")

PERCENT = {"unit_of_measurement": "%", "state_class": "measurement"}
CELSIUS = {"device_class": "temperature", "unit_of_measurement": "°C", "state_class": "measurement"}
COUNT = {"unit_of_measurement": "containers", "state_class": "measurement"}

ENTITIES: tuple[EntitySpec, ...] = (
    *(
        _spec(
            "sensor",
            f"{resource}_{line}_avg10",
            f"{resource.upper() if resource == 'io' else resource.title()} pressure {line} (10 s)",
            ("sensors",),
            state_topic="pressure",
            value_template=_psi(resource, line),
            **PERCENT,
            suggested_display_precision=1,
            icon="mdi:gauge",
        )
        for resource in ("memory", "io", "cpu")
        for line in ("some", "full")
    ),
    _spec(
        "sensor",
        "hottest_temperature",
        "Hottest temperature",
        ("sensors",),
        state_topic="thermal",
        value_template=_number("value_json.max_celsius"),
        **CELSIUS,
        suggested_display_precision=1,
    ),
    _spec(
        "sensor",
        "gpu_utilization",
        "GPU utilisation",
        ("sensors",),
        state_topic="gpu",
        value_template=_max_over_gpus("utilization_percent"),
        **PERCENT,
        icon="mdi:expansion-card",
    ),
    _spec(
        "sensor",
        "gpu_temperature",
        "GPU temperature",
        ("sensors",),
        state_topic="gpu",
        value_template=_max_over_gpus("temperature_celsius"),
        **CELSIUS,
        suggested_display_precision=0,
    ),
    _spec(
        "sensor",
        "active_streams",
        "Active streams",
        ("sensors",),
        state_topic="streams",
        value_template=_number("value_json.count"),
        unit_of_measurement="streams",
        state_class="measurement",
        icon="mdi:play-network",
    ),
    _spec(
        "sensor",
        "paused_containers",
        "Paused containers",
        ("notifier", "actuator"),
        state_topic="derived",
        value_template=_number("value_json.paused"),
        **COUNT,
        icon="mdi:pause-circle",
    ),
    _spec(
        "sensor",
        "throttled_containers",
        "Throttled containers",
        ("notifier", "actuator"),
        state_topic="derived",
        value_template=_number("value_json.throttled"),
        **COUNT,
        icon="mdi:speedometer-slow",
    ),
    _spec(
        "binary_sensor",
        "media_mode",
        "Media mode",
        ("governor",),
        state_topic="desired",
        value_template=_on_off("value_json.media_mode"),
        icon="mdi:television-play",
    ),
    *(
        _spec(
            "binary_sensor",
            f"thermal_stage{stage}",
            f"Thermal stage {stage}",
            ("notifier", "governor"),
            state_topic="derived",
            value_template=_on_off(
                f"value_json.thermal_stage >= {stage}", "value_json.thermal_stage is number"
            ),
            device_class="heat",
        )
        for stage in (1, 2)
    ),
    # No availability: these show the services' own last wills, which the broker
    # keeps whoever is down, so they must stay readable when a service is not.
    *(
        _spec(
            "binary_sensor",
            f"{service}_online",
            f"{service.title()} online",
            (),
            state_topic=f"{service}_availability",
            payload_on=ONLINE,
            payload_off=OFFLINE,
            device_class="connectivity",
            entity_category="diagnostic",
        )
        for service in SERVICES
    ),
    _spec(
        "switch",
        "media_mode_override",
        "Media mode override",
        ("governor",),
        command_topic="trigger",
        payload_on="media_start",
        payload_off="media_stop",
        state_topic="governor_memory",
        value_template=_on_off("value_json.switches.media_forced"),
        state_on="ON",
        state_off="OFF",
        icon="mdi:television-play",
    ),
    _spec(
        "button",
        "tier3_pause",
        "Pause tier 3",
        ("governor",),
        command_topic="trigger",
        payload_press="tier3_pause",
        icon="mdi:pause",
    ),
    _spec(
        "button",
        "tier3_resume",
        "Resume tier 3",
        ("governor",),
        command_topic="trigger",
        payload_press="tier3_resume",
        icon="mdi:play",
    ),
    _spec(
        "button",
        "republish_discovery",
        "Re-publish discovery",
        ("notifier",),
        command_topic="republish",
        payload_press=REPUBLISH_PAYLOAD,
        entity_category="config",
        icon="mdi:refresh",
    ),
    _spec(
        "select",
        "preset",
        "Process group preset",
        ("governor",),
        command_topic="preset_set",
        state_topic="preset",
        options=[display_name(p) for p in PRESET_NAMES],
        entity_category="config",
        icon="mdi:tune-variant",
    ),
    _spec(
        "sensor",
        "last_decision",
        "Last decision",
        ("governor",),
        state_topic="decision",
        value_template="{{ value_json.summary }}",
        json_attributes_topic="decision",
        json_attributes_template=(
            "{{ {'container': value_json.container, 'action': value_json.action,"
            " 'reasons': value_json.reasons} | tojson }}"
        ),
        entity_category="diagnostic",
        icon="mdi:scale-balance",
    ),
    # The newest incident: its sentence (as much as a state holds), and all of it as
    # attributes. No incident yet: unknown.
    _spec(
        "sensor",
        "last_incident",
        "Last incident",
        ("governor",),
        state_topic="incidents",
        value_template=(
            "{% set i = (value_json.incidents or [None])[0] %}{{ i.sentence[:255] if i else None }}"
        ),
        json_attributes_topic="incidents",
        json_attributes_template=(
            "{% set i = (value_json.incidents or [None])[0] %}"
            "{% set a = i.actions[0] if i and i.actions else None %}"
            "{{ ({'sentence': i.sentence, 'id': i.id, 'kind': i.kind, 'resource': i.resource,"
            " 'open': i.ended_at is none, 'started_at': i.started_at, 'ended_at': i.ended_at,"
            " 'waiters': i.waiters | map(attribute='name') | list,"
            " 'peak_percent': i.peak_percent,"
            " 'top_contender': i.contenders[0].name if i.contenders else None,"
            " 'first_action': (a.target ~ ': ' ~ a.what) if a else None,"
            " 'time_to_action_seconds': i.time_to_action_seconds,"
            " 'cleared_after_action': i.cleared_after_action} if i else {}) | tojson }}"
        ),
        icon="mdi:alert-decagram",
    ),
)


def _schedule_trigger(event: str, name: str) -> str:
    return json.dumps({"event": event, "schedule": name})


def schedule_entities(cfg: WardenConfig) -> list[EntitySpec]:
    """Per schedule: a switch (on: it acts; off: it does nothing, kept in the governor's
    memory), a button that skips its window in force or next ("skip tonight"), and a
    sensor of when it next begins or ends. Keys by the schedule's name: rename one, and
    Home Assistant gets new entities."""
    specs = []
    for schedule in cfg.schedules:
        name = schedule.name
        key = f"schedule_{name.lower().replace('-', '_')}"
        status = f"value_json.status.schedules[{name!r}]"
        specs += [
            _spec(
                "switch",
                key,
                f"Schedule {name}",
                ("governor",),
                command_topic="trigger",
                payload_on=_schedule_trigger("schedule_on", name),
                payload_off=_schedule_trigger("schedule_off", name),
                state_topic="governor_memory",
                value_template=_on_off(
                    f"{name!r} not in (value_json.switches.schedules_off or [])"
                ),
                state_on="ON",
                state_off="OFF",
                json_attributes_topic="governor_memory",
                json_attributes_template=f"{{{{ ({status} if {status} is defined else {{}})"
                " | tojson }}",
                icon="mdi:calendar-clock",
            ),
            _spec(
                "button",
                f"{key}_skip",
                f"Skip schedule {name}",
                ("governor",),
                command_topic="trigger",
                payload_press=_schedule_trigger("schedule_skip", name),
                icon="mdi:calendar-remove",
            ),
            _spec(
                "sensor",
                f"{key}_next_change",
                f"Schedule {name} next change",
                ("governor",),
                state_topic="governor_memory",
                value_template=f"{{% set s = {status} if {status} is defined else None %}}"
                "{{ s.next_change if s and s.next_change else None }}",
                device_class="timestamp",
                icon="mdi:calendar-arrow-right",
            ),
        ]
    return specs
