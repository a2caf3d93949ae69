"""Every Home Assistant discovery payload, from (config, host id, version). Pure.

Entities read Warden's own retained topics where a template can (so Home
Assistant shows the truth, not a copy the notifier might have missed), and the
notifier's derived `ha/state` topic where it cannot. A value the host does not
report renders as `None`, which Home Assistant shows as unknown, never 0.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from shared import channels
from shared.config.model import WardenConfig
from shared.topics import OFFLINE, ONLINE, ServiceName, Topics
from shared.topics import discovery_node as node_id

Component = Literal["sensor", "binary_sensor", "switch", "button", "select", "device_automation"]

MANUFACTURER = "Warden"
MODEL = "Warden resource governor"
PRESETS = ("Conservative", "Balanced", "Aggressive")
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


@dataclass(frozen=True)
class Entity:
    component: Component
    config: dict[str, Any]


def config_topic(prefix: str, component: str, host: str, key: str) -> str:
    return f"{prefix}/{component}/{node_id(host)}/{key}/config"


def node_filter(prefix: str, host: str) -> str:
    """Every discovery config this host's Warden may have left, whatever its component."""
    return f"{prefix}/+/{node_id(host)}/+/config"


def configuration_url(cfg: WardenConfig) -> str | None:
    if cfg.home_assistant.configuration_url:
        return cfg.home_assistant.configuration_url
    http = cfg.general.http_server
    # A loopback or wildcard address would be a dead link in someone else's browser.
    if not http.enabled or http.host in ("127.0.0.1", "localhost", "::1", "0.0.0.0", "::", ""):
        return None
    host = f"[{http.host}]" if ":" in http.host else http.host
    return f"http://{host}:{http.port}/status"


def device_block(cfg: WardenConfig, host: str, version: str) -> dict[str, Any]:
    device: dict[str, Any] = {
        "identifiers": [node_id(host)],
        "name": cfg.home_assistant.device_name or f"Warden {host}",
        "manufacturer": MANUFACTURER,
        "model": MODEL,
        "sw_version": version,
    }
    if url := configuration_url(cfg):
        device["configuration_url"] = url
    return device


def origin_block(version: str) -> dict[str, Any]:
    return {"name": "Warden", "sw_version": version}


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


def _availability_topic(service: ServiceName) -> Callable[[Topics], str]:
    return lambda t: channels.AVAILABILITY.topic_for(t, service=service)


# The channels the table's `*_topic` fields name, for one host.
HOST_TOPICS: dict[str, Callable[[Topics], str]] = {
    **{
        key: channel.topic_for
        for key, channel in (
            ("pressure", channels.PRESSURE),
            ("thermal", channels.THERMAL),
            ("gpu", channels.GPU),
            ("streams", channels.STREAMS),
            ("derived", channels.HA_STATE),
            ("desired", channels.DESIRED),
            ("governor_memory", channels.GOVERNOR_MEMORY),
            ("trigger", channels.TRIGGER),
            ("republish", channels.HA_REPUBLISH),
            ("preset", channels.PRESET),
            ("preset_set", channels.PRESET_SET),
            ("decision", channels.DECISION),
            ("incidents", channels.INCIDENTS),
        )
    },
    **{f"{s}_availability": _availability_topic(s) for s in SERVICES},
}

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
        options=list(PRESETS),
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


def _availability(
    topics: Topics, services: tuple[ServiceName, ...], bridged: bool
) -> list[dict[str, str]]:
    entries = [
        {
            "topic": channels.AVAILABILITY.topic_for(topics, service=s),
            "payload_available": ONLINE,
            "payload_not_available": OFFLINE,
        }
        for s in services
    ]
    if bridged:
        # Behind a bridge, a host that is gone leaves its services' `online` on the
        # central broker; the bridge's own last will there is what says so.
        entries.append(
            {
                "topic": channels.BRIDGE_AVAILABILITY.topic_for(topics),
                "payload_available": "1",
                "payload_not_available": "0",
            }
        )
    return entries


def build_entities(cfg: WardenConfig, host: str, version: str) -> dict[str, Entity]:
    """Entity key -> (component, discovery config). The key is part of the unique id: stable."""
    topics = Topics(cfg.mqtt.topic_root, host)
    device = device_block(cfg, host, version)
    origin = origin_block(version)
    entities: dict[str, Entity] = {}
    for spec in (*ENTITIES, *schedule_entities(cfg)):
        config: dict[str, Any] = {
            "name": spec.name,
            "unique_id": f"{node_id(host)}_{spec.key}",
            "default_entity_id": f"{spec.component}.{node_id(host)}_{spec.key}",
            # Home Assistant before 2025.10 knows only object_id and would derive the
            # entity id from the name; newer ones take default_entity_id and ignore
            # it. Both, as zigbee2mqtt sends, until the older releases are gone.
            "object_id": f"{node_id(host)}_{spec.key}",
            "device": device,
            "origin": origin,
            "qos": 1,
        }
        if availability := _availability(topics, spec.services, cfg.bridge.enabled):
            config.update(availability=availability, availability_mode="all")
        for field, value in spec.fields.items():
            config[field] = HOST_TOPICS[value](topics) if field.endswith("_topic") else value
        entities[spec.key] = Entity(spec.component, config)
    for kind, (trigger_type, subtype) in DEVICE_TRIGGERS.items():
        entities[f"event_{kind}"] = Entity(
            "device_automation",
            {
                "automation_type": "trigger",
                "topic": channels.HA_EVENT.topic_for(topics, kind=kind),
                "type": trigger_type,
                "subtype": subtype,
                "device": device,
                "origin": origin,
                "qos": 1,
            },
        )
    return entities


def discovery_messages(cfg: WardenConfig, host: str, version: str) -> dict[str, dict[str, Any]]:
    """Config topic -> payload, for everything this host announces."""
    prefix = cfg.home_assistant.discovery_prefix
    return {
        config_topic(prefix, e.component, host, key): e.config
        for key, e in build_entities(cfg, host, version).items()
    }
