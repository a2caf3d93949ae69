"""The HTTP shape of each notification service, and what a failure means for a retry."""

from __future__ import annotations

import email.utils
import time
from dataclasses import dataclass
from typing import Any, Protocol

from services.notifier.render import Notification
from shared.config.model import Notifications
from shared.errors import brief

# Statuses worth retrying; any other 4xx (a bad token, a wrong URL) will not mend itself.
_TRANSIENT = frozenset({408, 425, 429})


class DeliveryError(Exception):
    def __init__(self, reason: str, permanent: bool = False, retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.retry_after = retry_after


class Channel(Protocol):
    @property
    def name(self) -> str: ...

    def send(self, note: Notification, timeout: float) -> None:
        """Raises DeliveryError when not delivered."""


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Retry-After as seconds from now: a number of seconds, or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def post(url: str, timeout: float, **kwargs: Any) -> None:
    # Imported on first use: requests, urllib3 and charset_normalizer are about 5 MB of RSS,
    # kept out of a process that has nothing to send, or no channel configured.
    import requests

    try:
        response = requests.post(url, timeout=timeout, **kwargs)
    except requests.Timeout:
        raise DeliveryError(f"no answer within {timeout:g} s") from None
    except requests.RequestException as exc:
        raise DeliveryError(f"{type(exc).__name__}: {brief(exc)}") from None
    if response.status_code < 400:
        return
    reason = f"HTTP {response.status_code} {response.reason or ''}".strip()
    detail = response.text.strip()[:120]
    if detail:
        reason += f": {detail}"
    code = response.status_code
    raise DeliveryError(
        reason,
        permanent=400 <= code < 500 and code not in _TRANSIENT,
        retry_after=retry_after_seconds(response.headers.get("Retry-After")),
    )


@dataclass(frozen=True)
class Discord:
    url: str
    name: str = "discord"

    def send(self, note: Notification, timeout: float) -> None:
        body = {
            "username": "Warden",
            "embeds": [{"title": note.title, "description": note.body, "color": note.colour}],
        }
        post(self.url, timeout, json=body)


@dataclass(frozen=True)
class Ntfy:
    url: str
    token: str = ""
    priority: str | None = None
    tags: tuple[str, ...] = ()
    name: str = "ntfy"

    def send(self, note: Notification, timeout: float) -> None:
        tags = [*self.tags, *note.tags]
        headers = {"Title": note.title, "Priority": self.priority or note.ntfy_priority}
        if tags:
            headers["Tags"] = ",".join(dict.fromkeys(tags))
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        post(self.url, timeout, data=note.body.encode("utf-8"), headers=headers)


@dataclass(frozen=True)
class Gotify:
    url: str
    token: str
    name: str = "gotify"

    def send(self, note: Notification, timeout: float) -> None:
        body = {"title": note.title, "message": note.body, "priority": note.gotify_priority}
        post(
            f"{self.url.rstrip('/')}/message",
            timeout,
            json=body,
            headers={"X-Gotify-Key": self.token},
        )


def configured_channels(cfg: Notifications) -> list[Channel]:
    channels: list[Channel] = []
    if cfg.discord_webhook_url.strip():
        channels.append(Discord(cfg.discord_webhook_url.strip()))
    if cfg.ntfy_url.strip():
        channels.append(
            Ntfy(
                cfg.ntfy_url.strip(),
                cfg.ntfy_token.strip(),
                cfg.ntfy_priority,
                tuple(cfg.ntfy_tags),
            )
        )
    # ADRG sends to Gotify only with both the URL and the application token.
    if cfg.gotify_url.strip() and cfg.gotify_token.strip():
        channels.append(Gotify(cfg.gotify_url.strip(), cfg.gotify_token.strip()))
    return channels
