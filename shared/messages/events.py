"""Notable events, for the notifier and Home Assistant."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import Field

from shared.config.model import NotifyEvent
from shared.messages.base import Message

Severity = Literal["info", "warning", "critical"]


class Event(Message):
    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    kind: NotifyEvent
    source: Literal["sensors", "governor", "actuator", "notifier"]
    message: str
    severity: Severity = "info"
    details: dict[str, str | int | float | bool | None] = {}
