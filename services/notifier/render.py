"""How an event reads in a notification: title, body, severity and priorities (ADRG's mapping)."""

from __future__ import annotations

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from shared.messages import Event
from shared.messages.events import Severity

# (substring of the event kind, ntfy priority, gotify priority), first match wins.
_STYLES = (
    ("emergency", "urgent", 10),
    ("critical", "high", 8),
    ("thermal", "high", 7),
    ("failed", "high", 6),
    ("media", "default", 4),
    ("daemon", "low", 3),
)
_DEFAULT = ("default", 4)
# ntfy shows these tags as emoji.
_SEVERITY_TAGS = {"info": [], "warning": ["warning"], "critical": ["rotating_light"]}


class Notification(BaseModel):
    """One message for every destination; kept in the outbox file until delivered."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str
    title: str
    body: str
    severity: Severity = "info"
    ntfy_priority: str
    gotify_priority: int
    tags: list[str] = []
    # A destination this message is about, which must not be asked to carry it (in an
    # outbox file written before Warden called them destinations: `about_channel`).
    about_destination: str | None = Field(
        default=None, validation_alias=AliasChoices("about_destination", "about_channel")
    )


def render(event: Event) -> Notification:
    ntfy, gotify = next(((n, g) for key, n, g in _STYLES if key in event.kind), _DEFAULT)
    title = f"Warden ({event.host}): {event.kind.replace('_', ' ').title()}"
    about = None
    if event.kind == "notifier_channel_failed":
        about = event.details.get("destination", event.details.get("channel"))
    return Notification(
        kind=event.kind,
        title=title,
        body=event.message,
        severity=event.severity,
        ntfy_priority=ntfy,
        gotify_priority=gotify,
        tags=_SEVERITY_TAGS[event.severity],
        about_destination=str(about) if about is not None else None,
    )


def repeated(note: Notification, times: int, window: float) -> Notification:
    """The one message that stands for `times` more of the same within a window."""
    body = f"{note.body} (repeated {times} times in {window:g} s)"
    return note.model_copy(update={"body": body})
