"""The one config model every service reads; each uses its own part.

ADRG's sections keep ADRG's keys, defaults and meaning, so an ADRG
config.yaml loads unchanged. Warden's own sections (mqtt, host_id,
home_assistant, governor, actuator, sensors, process_groups, protect) come
after them. Unknown keys are errors: a typo in a threshold should fail at
start, not silently fall back to a default.

Each section lives in its own module beside this one; this module composes
them and re-exports every name, so `from shared.config.model import X` works
for any of them.
"""

from __future__ import annotations

import socket

from pydantic import Field, field_validator, model_validator

from shared.config.actuator import Actuator
from shared.config.bandwidth import Bandwidth, StreamDefaults, StreamHolds
from shared.config.base import TOPIC_LEVEL, Percent, Port, Seconds, Section, Size
from shared.config.bridge import Bridge
from shared.config.conditions import Condition, ProcessMatch, TopicMatch
from shared.config.general import General, HttpServer
from shared.config.governor import Governor
from shared.config.gpu_share import GpuShare
from shared.config.home_assistant import HomeAssistant
from shared.config.incidents import Incidents
from shared.config.media_mode import (
    MEDIA_SERVER_PROVIDERS,
    DownloadThrottle,
    MediaMode,
    MediaWebhook,
)
from shared.config.mqtt import Mqtt
from shared.config.notifications import ADRG_NOTIFY_ON, Notifications, NtfyPriority
from shared.config.pressure import IoPressure, MemoryPressure
from shared.config.process_groups import ProcessGroup
from shared.config.protect import Protect, ProtectStall
from shared.config.schedules import Schedule, Window
from shared.config.security import Security
from shared.config.sensors import GpuSensors, Sensors, ThermalSensors
from shared.config.thermal import Thermal
from shared.config.tiers import Tier, TierNumber
from shared.config.web import HistoryTier, Web, WebHistory
from shared.messages.events import AdrgEvent, NotifyEvent
from shared.tier_matcher import TierMatcher

__all__ = [
    "ADRG_NOTIFY_ON",
    "MEDIA_SERVER_PROVIDERS",
    "TOPIC_LEVEL",
    "Actuator",
    "AdrgEvent",
    "Bandwidth",
    "Bridge",
    "Condition",
    "DownloadThrottle",
    "General",
    "Governor",
    "GpuSensors",
    "GpuShare",
    "HistoryTier",
    "HomeAssistant",
    "HttpServer",
    "Incidents",
    "IoPressure",
    "MediaMode",
    "MediaWebhook",
    "MemoryPressure",
    "Mqtt",
    "Notifications",
    "NotifyEvent",
    "NtfyPriority",
    "Percent",
    "Port",
    "ProcessGroup",
    "ProcessMatch",
    "Protect",
    "ProtectStall",
    "Schedule",
    "Seconds",
    "Section",
    "Security",
    "Sensors",
    "Size",
    "StreamDefaults",
    "StreamHolds",
    "Thermal",
    "ThermalSensors",
    "Tier",
    "TierNumber",
    "TopicMatch",
    "WardenConfig",
    "Web",
    "WebHistory",
    "Window",
]


def _default_host_id() -> str:
    return socket.gethostname().split(".")[0] or "localhost"


class WardenConfig(Section):
    ADRG_KEYS = frozenset(
        {
            "general",
            "tiers",
            "protected_containers",
            "media_mode",
            "thermal",
            "memory_pressure",
            "io_pressure",
            "notifications",
        }
    )

    general: General = Field(default=General(), description="poll interval, logs, the HTTP API")
    tiers: dict[TierNumber, Tier] = Field(
        default={},
        description="tiers 0 (core) to 3 (bulk); a tier not given has the defaults below",
    )
    protected_containers: list[str] = Field(
        default=[],
        description="container names (exact) no rule pauses, throttles or restarts, as tier 0's",
    )
    media_mode: MediaMode = Field(default=MediaMode(), description="the media mode rule")
    thermal: Thermal = Field(default=Thermal(), description="the thermal rule")
    memory_pressure: MemoryPressure = Field(
        default=MemoryPressure(), description="the memory squeeze and restart rules"
    )
    io_pressure: IoPressure = Field(default=IoPressure(), description="the I/O pressure rule")
    notifications: Notifications = Field(
        default=Notifications(), description="where events are sent"
    )

    host_id: str = Field(
        default_factory=_default_host_id,
        description="this host's topic level; default: the hostname up to its first dot",
        json_schema_extra={"readme_default": "hostname"},
    )
    mqtt: Mqtt = Field(default=Mqtt(), description="the broker")
    home_assistant: HomeAssistant = Field(default=HomeAssistant(), description="MQTT discovery")
    governor: Governor = Field(default=Governor(), description="the lease and fact freshness")
    actuator: Actuator = Field(
        default=Actuator(), description="where and within what bounds it acts"
    )
    security: Security = Field(default=Security(), description="signed desired states and actions")
    bridge: Bridge = Field(default=Bridge(), description="a bridge to a central broker")
    sensors: Sensors = Field(default=Sensors(), description="what the sensors read, and how often")
    process_groups: list[ProcessGroup] = Field(
        default=[], description="bare processes handled together (Optimizarr-style)"
    )
    web: Web = Field(default=Web(), description="the web service")
    protect: Protect = Field(default=Protect(), description="Warden's protect rule")
    schedules: list[Schedule] = Field(
        default=[], description="time windows that say what tiers, containers and groups may do"
    )
    conditions: list[Condition] = Field(
        default=[],
        description="host events (a process, a container, an MQTT value) that change the policy",
    )
    bandwidth: Bandwidth = Field(
        default=Bandwidth(), description="the download client's limits, less what streams use"
    )
    incidents: Incidents = Field(
        default=Incidents(), description="stalls and buffering told as incidents"
    )
    gpu_share: GpuShare = Field(
        default=GpuShare(), description="a hardware transcode has the GPU to itself"
    )

    @field_validator("host_id")
    @classmethod
    def _host_id_is_topic_level(cls, value: str) -> str:
        if not TOPIC_LEVEL.match(value):
            raise ValueError("must be one MQTT topic level: no '/', '+', '#' or spaces")
        return value

    @field_validator("process_groups")
    @classmethod
    def _group_names_unique(cls, value: list[ProcessGroup]) -> list[ProcessGroup]:
        names = [group.name for group in value]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"process group names must be unique: {', '.join(duplicates)}")
        return value

    @model_validator(mode="after")
    def _named_things_exist(self) -> WardenConfig:
        groups = {group.name for group in self.process_groups}
        for kind, items in (("schedules", self.schedules), ("conditions", self.conditions)):
            names = [item.name for item in items]
            duplicates = sorted({n for n in names if names.count(n) > 1})
            if duplicates:
                raise ValueError(f"{kind} names must be unique: {', '.join(duplicates)}")
            for item in items:
                unknown = sorted(set(item.process_groups) - groups)
                if unknown:
                    raise ValueError(
                        f"{kind} {item.name}: no process group named {', '.join(unknown)}"
                    )
        return self

    @property
    def watches_streams(self) -> bool:
        """The sensors ask the media server for sessions: for media mode, for the
        bandwidth the streams reserve, or for GPU sharing (both need the server's sessions
        even with media mode off)."""
        media = self.media_mode
        named = media.provider in MEDIA_SERVER_PROVIDERS and bool(media.url)
        return media.queries_server or (named and (self.bandwidth.active or self.gpu_share.enabled))

    def tier(self, number: int) -> Tier:
        return self.tiers.get(number, Tier())

    def tier_matcher(self) -> TierMatcher:
        return TierMatcher(
            {n: t.containers for n, t in self.tiers.items()}, self.protected_containers
        )
