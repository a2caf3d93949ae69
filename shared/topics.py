"""Every MQTT topic name Warden uses is built here, from the root and the host id."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ServiceName = Literal["sensors", "governor", "actuator", "notifier"]
SensorKind = Literal["pressure", "containers"]


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


ONLINE = "online"
OFFLINE = "offline"
