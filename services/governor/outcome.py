"""What rules return: events to announce, and when they want to be asked again."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from shared.config.model import NotifyEvent
from shared.messages.desired import Reason
from shared.messages.events import Severity


@dataclass(frozen=True)
class EventDraft:
    kind: NotifyEvent
    message: str
    severity: Severity = "info"
    details: dict[str, str | int | float | bool | None] = field(default_factory=dict)


@dataclass(frozen=True)
class RestartDraft:
    """A restart to ask the actuator for; the service gives it a fresh action id."""

    container: str
    reason: Reason


@dataclass(frozen=True)
class LogNote:
    """Something a rule saw that is worth a log line but changes no intent (a warning)."""

    event: str
    level: Literal["info", "warning"] = "info"
    fields: dict[str, str | int | float | bool | None] = field(default_factory=dict)


def earliest(*times: float | None) -> float | None:
    known = [t for t in times if t is not None]
    return min(known) if known else None
