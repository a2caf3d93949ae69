"""Notable events, for the notifier and Home Assistant."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import Field

from shared.messages.base import Message

# The kinds ADRG's notifications know (and its notify_on takes).
AdrgEvent = Literal[
    "daemon_start",
    "daemon_stop",
    "media_mode_activated",
    "media_mode_deactivated",
    "thermal_stage1",
    "thermal_stage2",
    "memory_critical_restart",
    "memory_emergency_restart",
]
# Every kind an Event may have: ADRG's and Warden's own.
NotifyEvent = Literal[
    AdrgEvent,
    "thermal_warning",
    "lease_expired",
    "refusal",
    # A notification destination failing: named before Warden called them destinations,
    # and kept (notify_on lists name it).
    "notifier_channel_failed",
    "incident",
]
Severity = Literal["info", "warning", "critical"]


class Event(Message):
    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    kind: NotifyEvent
    source: Literal["sensors", "governor", "actuator", "notifier"]
    message: str
    severity: Severity = "info"
    details: dict[str, str | int | float | bool | None] = {}
