"""Every Home Assistant discovery payload, from (config, host id, version). Pure.

Entities read Warden's own retained topics where a template can (so Home
Assistant shows the truth, not a copy the notifier might have missed), and the
notifier's derived `ha/state` topic where it cannot. A value the host does not
report renders as `None`, which Home Assistant shows as unknown, never 0.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from services.notifier.home_assistant.entities import (
    DEVICE_TRIGGERS,
    ENTITIES,
    SERVICES,
    Component,
    schedule_entities,
)
from shared import channels
from shared.config.model import WardenConfig
from shared.topics import OFFLINE, ONLINE, ServiceName, Topics
from shared.topics import discovery_node as node_id

MANUFACTURER = "Warden"
MODEL = "Warden resource governor"


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
