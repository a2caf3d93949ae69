"""How an event reads in a notification: title, body, priority and colour (ADRG's mapping)."""

from __future__ import annotations

from dataclasses import dataclass

from shared.messages import Event

# (substring of the event kind, ntfy priority, gotify priority, discord colour), first match wins.
_STYLES = (
    ("emergency", "urgent", 10, 0xFF0000),
    ("critical", "high", 8, 0xFF0000),
    ("thermal", "high", 7, 0xFF8C00),
    ("media", "default", 4, 0x7289DA),
    ("daemon", "low", 3, 0x43B581),
)
_DEFAULT = ("default", 4, 0x99AAB5)


@dataclass(frozen=True)
class Notification:
    kind: str
    title: str
    body: str
    ntfy_priority: str
    gotify_priority: int
    colour: int


def render(event: Event) -> Notification:
    ntfy, gotify, colour = next(
        ((n, g, c) for key, n, g, c in _STYLES if key in event.kind), _DEFAULT
    )
    title = f"Warden ({event.host}): {event.kind.replace('_', ' ').title()}"
    return Notification(event.kind, title, event.message, ntfy, gotify, colour)
