"""What rules return: events to announce, and when they want to be asked again."""

from __future__ import annotations

from dataclasses import dataclass, field

from shared.config.model import NotifyEvent
from shared.messages.events import Severity


@dataclass(frozen=True)
class EventDraft:
    kind: NotifyEvent
    message: str
    severity: Severity = "info"
    details: dict[str, str | int | float | bool | None] = field(default_factory=dict)


def earliest(*times: float | None) -> float | None:
    known = [t for t in times if t is not None]
    return min(known) if known else None
