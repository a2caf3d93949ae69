"""Where on the bus a service is: the topic root and its host id. Every topic name comes
from the channel table (shared/channels.py), filled in with these: `channel.topic_for`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

ServiceName = Literal["sensors", "governor", "actuator", "notifier", "web"]
SensorKind = Literal[
    "pressure", "containers", "streams", "thermal", "gpu", "resources", "processes"
]


@dataclass(frozen=True)
class Topics:
    root: str
    host: str


_NOT_ID = re.compile(r"[^a-zA-Z0-9_-]")


def host_slug(host: str) -> str:
    """The host id as Home Assistant's discovery topics and entity ids allow it."""
    return _NOT_ID.sub("_", host).lower()


def discovery_node(host: str) -> str:
    """The discovery node id of a host's device: homeassistant/<component>/<node>/..."""
    return f"warden_{host_slug(host)}"


ONLINE = "online"
OFFLINE = "offline"
