"""The Mosquitto bridge from one host's broker to the central one, from the channel table.

Every host keeps its own broker, sensors, governor and actuator, so its
decisions never cross the network. The bridge carries up what this host's
services write (facts, desired and applied state, events, availability,
Home Assistant discovery) and carries down what the outside writes for it
(its triggers and settings, warden/trigger, Home Assistant's birth message, the
topics its conditions read).
Mosquitto's own bridge notification is this host's liveness on the central
broker: `1` while connected, `0` by its last will when the link or the host is
gone, so no stale `online` is left there for a host that is really gone.
"""

from __future__ import annotations

from shared.channel import SERVICES, Channel
from shared.channel_files import render
from shared.channels import BRIDGE_AVAILABILITY, CHANNELS
from shared.config.model import WardenConfig
from shared.topics import Topics, discovery_node, host_slug

# Writers whose topics come down to the host from the central broker.
OUTSIDE = ("homeassistant", "web", "anonymous")
SYSTEM_CAS = "/etc/ssl/certs"


def _pattern(channel: Channel, cfg: WardenConfig) -> str:
    topic = channel.topic.replace("{node}", discovery_node(cfg.host_id))
    return render(
        topic, cfg.mqtt.topic_root, cfg.host_id, cfg.home_assistant.discovery_prefix, "+", "+"
    )


def bridge_topics(cfg: WardenConfig) -> list[tuple[str, str]]:
    """(pattern, direction) for every channel that crosses the bridge, in table order."""
    lines: list[tuple[str, str]] = []
    for channel in CHANNELS:
        if not channel.bridged:
            continue
        if any(w in SERVICES for w in channel.writers):
            direction = "out"
        elif any(w in OUTSIDE for w in channel.writers):
            direction = "in"
        else:
            continue
        line = (_pattern(channel, cfg), direction)
        if line not in lines:
            lines.append(line)
    # What this host's conditions read (Home Assistant's entities on the central broker).
    for condition in cfg.conditions:
        if condition.mqtt is not None and (condition.mqtt.topic, "in") not in lines:
            lines.append((condition.mqtt.topic, "in"))
    return lines


def bridge_conf(cfg: WardenConfig) -> str:
    """Lines for this host's mosquitto.conf; the bridge section of the config must be on."""
    bridge = cfg.bridge
    here = Topics(cfg.mqtt.topic_root, cfg.host_id)
    assert bridge.enabled and bridge.address
    name = f"warden-{host_slug(cfg.host_id)}"
    lines = [
        "# Bridge to the central broker, written by warden-stack from config `bridge:`.",
        f"connection {name}",
        f"address {bridge.address}:{bridge.port}",
        "bridge_protocol_version mqttv311",
        f"remote_clientid {name}",
        # Tells the central Mosquitto this is a bridge, so nothing it sent down comes back up.
        "try_private true",
        # Triggers sent while the link was cut are not delivered hours later; retained
        # state is sent again on every reconnect, so the central view catches up.
        "cleansession true",
        f"keepalive_interval {bridge.keepalive_seconds}",
        "restart_timeout 1 30",
        "notifications true",
        "notifications_local_only false",
        f"notification_topic {BRIDGE_AVAILABILITY.topic_for(here)}",
    ]
    if bridge.username is not None:
        lines += [f"remote_username {bridge.username}", f"remote_password {bridge.password}"]
    if bridge.tls:
        lines += (
            [f"bridge_cafile {bridge.ca_file}"]
            if bridge.ca_file
            else [f"bridge_capath {SYSTEM_CAS}"]
        )
    lines += [f"topic {pattern} {direction} 1" for pattern, direction in bridge_topics(cfg)]
    return "\n".join(lines) + "\n"
