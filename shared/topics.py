"""Every MQTT topic name Warden uses is built here, from the root and the host id."""

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

    @property
    def _base(self) -> str:
        return f"{self.root}/{self.host}"

    def sensor(self, kind: SensorKind) -> str:
        return f"{self._base}/sensors/{kind}"

    @property
    def desired(self) -> str:
        return f"{self._base}/desired"

    @property
    def governor_memory(self) -> str:
        return f"{self._base}/governor/memory"

    @property
    def actions(self) -> str:
        return f"{self._base}/actions"

    @property
    def applied(self) -> str:
        return f"{self._base}/applied"

    @property
    def events(self) -> str:
        return f"{self._base}/events"

    @property
    def trigger_all_hosts(self) -> str:
        return f"{self.root}/trigger"

    @property
    def trigger(self) -> str:
        return f"{self._base}/trigger"

    def availability(self, service: ServiceName) -> str:
        return f"{self._base}/{service}/availability"

    @property
    def decision(self) -> str:
        """Retained: the governor's latest change, for Home Assistant's diagnostic sensor."""
        return f"{self._base}/governor/decision"

    @property
    def preset(self) -> str:
        return f"{self._base}/preset"

    @property
    def preset_set(self) -> str:
        return f"{self._base}/preset/set"

    @property
    def bridge_availability(self) -> str:
        """Retained on the central broker: `1` while this host's bridge is up, `0` when not."""
        return f"{self._base}/bridge/availability"

    @property
    def settings(self) -> str:
        """Retained: resource settings from the web service, applied on top of the config."""
        return f"{self._base}/settings"

    @property
    def overrides(self) -> str:
        """Retained: timed overrides from the web service, carried out until they expire."""
        return f"{self._base}/overrides"

    def ha(self, leaf: str) -> str:
        """State the notifier derives for Home Assistant where a template cannot."""
        return f"{self._base}/ha/{leaf}"


_NOT_ID = re.compile(r"[^a-zA-Z0-9_-]")


def host_slug(host: str) -> str:
    """The host id as Home Assistant's discovery topics and entity ids allow it."""
    return _NOT_ID.sub("_", host).lower()


def discovery_node(host: str) -> str:
    """The discovery node id of a host's device: homeassistant/<component>/<node>/..."""
    return f"warden_{host_slug(host)}"


ONLINE = "online"
OFFLINE = "offline"
