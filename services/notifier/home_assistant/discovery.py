"""Every Home Assistant discovery payload, from (config, host id, version). Pure.

Entities read Warden's own retained topics where a template can (so Home
Assistant shows the truth, not a copy the notifier might have missed), and the
notifier's derived `ha/state` topic where it cannot. A value the host does not
report renders as `None`, which Home Assistant shows as unknown, never 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

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


def build_entities(cfg: WardenConfig, host: str, version: str) -> dict[str, Entity]:
    """Entity key -> (component, discovery config). The key is part of the unique id: stable."""
    topics = Topics(cfg.mqtt.topic_root, host)
    device = device_block(cfg, host, version)
    origin = origin_block(version)

    # Behind a bridge, a host that is gone leaves its services' `online` on the central
    # broker; the bridge's own last will there is what says so.
    bridged = (
        [
            {
                "topic": topics.bridge_availability,
                "payload_available": "1",
                "payload_not_available": "0",
            }
        ]
        if cfg.bridge.enabled
        else []
    )

    def availability(*services: ServiceName) -> dict[str, Any]:
        return {
            "availability": [
                *(
                    {
                        "topic": topics.availability(s),
                        "payload_available": ONLINE,
                        "payload_not_available": OFFLINE,
                    }
                    for s in services
                ),
                *bridged,
            ],
            "availability_mode": "all",
        }

    def entity(
        component: Component, key: str, name: str, services: tuple[ServiceName, ...], **extra: Any
    ) -> tuple[str, Entity]:
        config: dict[str, Any] = {
            "name": name,
            "unique_id": f"{node_id(host)}_{key}",
            "default_entity_id": f"{component}.{node_id(host)}_{key}",
            # Home Assistant before 2025.10 knows only object_id and would derive the
            # entity id from the name; newer ones take default_entity_id and ignore
            # it. Both, as zigbee2mqtt sends, until the older releases are gone.
            "object_id": f"{node_id(host)}_{key}",
            "device": device,
            "origin": origin,
            "qos": 1,
        }
        if services or bridged:
            config.update(availability(*services))
        config.update(extra)
        return key, Entity(component, config)

    pressure = topics.sensor("pressure")
    derived = topics.ha("state")
    entries: list[tuple[str, Entity]] = []

    for resource in ("memory", "io", "cpu"):
        for line in ("some", "full"):
            entries.append(
                entity(
                    "sensor",
                    f"{resource}_{line}_avg10",
                    f"{resource.upper() if resource == 'io' else resource.title()} "
                    f"pressure {line} (10 s)",
                    ("sensors",),
                    state_topic=pressure,
                    value_template=_psi(resource, line),
                    unit_of_measurement="%",
                    state_class="measurement",
                    suggested_display_precision=1,
                    icon="mdi:gauge",
                )
            )
    entries += [
        entity(
            "sensor",
            "hottest_temperature",
            "Hottest temperature",
            ("sensors",),
            state_topic=topics.sensor("thermal"),
            value_template=_number("value_json.max_celsius"),
            device_class="temperature",
            unit_of_measurement="°C",
            state_class="measurement",
            suggested_display_precision=1,
        ),
        entity(
            "sensor",
            "gpu_utilization",
            "GPU utilisation",
            ("sensors",),
            state_topic=topics.sensor("gpu"),
            value_template=_max_over_gpus("utilization_percent"),
            unit_of_measurement="%",
            state_class="measurement",
            icon="mdi:expansion-card",
        ),
        entity(
            "sensor",
            "gpu_temperature",
            "GPU temperature",
            ("sensors",),
            state_topic=topics.sensor("gpu"),
            value_template=_max_over_gpus("temperature_celsius"),
            device_class="temperature",
            unit_of_measurement="°C",
            state_class="measurement",
            suggested_display_precision=0,
        ),
        entity(
            "sensor",
            "active_streams",
            "Active streams",
            ("sensors",),
            state_topic=topics.sensor("streams"),
            value_template=_number("value_json.count"),
            unit_of_measurement="streams",
            state_class="measurement",
            icon="mdi:play-network",
        ),
        entity(
            "sensor",
            "paused_containers",
            "Paused containers",
            ("notifier", "actuator"),
            state_topic=derived,
            value_template=_number("value_json.paused"),
            unit_of_measurement="containers",
            state_class="measurement",
            icon="mdi:pause-circle",
        ),
        entity(
            "sensor",
            "throttled_containers",
            "Throttled containers",
            ("notifier", "actuator"),
            state_topic=derived,
            value_template=_number("value_json.throttled"),
            unit_of_measurement="containers",
            state_class="measurement",
            icon="mdi:speedometer-slow",
        ),
        entity(
            "binary_sensor",
            "media_mode",
            "Media mode",
            ("governor",),
            state_topic=topics.desired,
            value_template=_on_off("value_json.media_mode"),
            icon="mdi:television-play",
        ),
    ]
    for stage in (1, 2):
        entries.append(
            entity(
                "binary_sensor",
                f"thermal_stage{stage}",
                f"Thermal stage {stage}",
                ("notifier", "governor"),
                state_topic=derived,
                value_template=_on_off(
                    f"value_json.thermal_stage >= {stage}", "value_json.thermal_stage is number"
                ),
                device_class="heat",
            )
        )
    every: tuple[ServiceName, ...] = ("sensors", "governor", "actuator", "notifier")
    for service in every:
        # No availability: these show the services' own last wills, which the broker
        # keeps whoever is down, so they must stay readable when a service is not.
        entries.append(
            entity(
                "binary_sensor",
                f"{service}_online",
                f"{service.title()} online",
                (),
                state_topic=topics.availability(service),
                payload_on=ONLINE,
                payload_off=OFFLINE,
                device_class="connectivity",
                entity_category="diagnostic",
            )
        )
    entries += [
        entity(
            "switch",
            "media_mode_override",
            "Media mode override",
            ("governor",),
            command_topic=topics.trigger,
            payload_on="media_start",
            payload_off="media_stop",
            state_topic=topics.desired,
            value_template=_on_off("value_json.governor.media_forced"),
            state_on="ON",
            state_off="OFF",
            icon="mdi:television-play",
        ),
        entity(
            "button",
            "tier3_pause",
            "Pause tier 3",
            ("governor",),
            command_topic=topics.trigger,
            payload_press="tier3_pause",
            icon="mdi:pause",
        ),
        entity(
            "button",
            "tier3_resume",
            "Resume tier 3",
            ("governor",),
            command_topic=topics.trigger,
            payload_press="tier3_resume",
            icon="mdi:play",
        ),
        entity(
            "button",
            "republish_discovery",
            "Re-publish discovery",
            ("notifier",),
            command_topic=topics.ha("republish"),
            payload_press=REPUBLISH_PAYLOAD,
            entity_category="config",
            icon="mdi:refresh",
        ),
        entity(
            "select",
            "preset",
            "Process group preset",
            ("governor",),
            command_topic=topics.preset_set,
            state_topic=topics.preset,
            options=list(PRESETS),
            entity_category="config",
            icon="mdi:tune-variant",
        ),
        entity(
            "sensor",
            "last_decision",
            "Last decision",
            ("governor",),
            state_topic=topics.decision,
            value_template="{{ value_json.summary }}",
            json_attributes_topic=topics.decision,
            json_attributes_template=(
                "{{ {'container': value_json.container, 'action': value_json.action,"
                " 'reasons': value_json.reasons} | tojson }}"
            ),
            entity_category="diagnostic",
            icon="mdi:scale-balance",
        ),
    ]
    for kind, (trigger_type, subtype) in DEVICE_TRIGGERS.items():
        entries.append(
            (
                f"event_{kind}",
                Entity(
                    "device_automation",
                    {
                        "automation_type": "trigger",
                        "topic": topics.ha(f"event/{kind}"),
                        "type": trigger_type,
                        "subtype": subtype,
                        "device": device,
                        "origin": origin,
                        "qos": 1,
                    },
                ),
            )
        )
    return dict(entries)


def discovery_messages(cfg: WardenConfig, host: str, version: str) -> dict[str, dict[str, Any]]:
    """Config topic -> payload, for everything this host announces."""
    prefix = cfg.home_assistant.discovery_prefix
    return {
        config_topic(prefix, e.component, host, key): e.config
        for key, e in build_entities(cfg, host, version).items()
    }
