"""The HTTP shape of each notification service."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import requests

from services.notifier.render import Notification
from shared.config.model import Notifications


class Channel(Protocol):
    name: str

    def send(self, note: Notification, timeout: float) -> None:
        """Raises requests.RequestException (HTTPError for a refusal) when not delivered."""


@dataclass(frozen=True)
class Discord:
    url: str
    name: str = "discord"

    def send(self, note: Notification, timeout: float) -> None:
        body = {
            "username": "Warden",
            "embeds": [{"title": note.title, "description": note.body, "color": note.colour}],
        }
        requests.post(self.url, json=body, timeout=timeout).raise_for_status()


@dataclass(frozen=True)
class Ntfy:
    url: str
    token: str = ""
    name: str = "ntfy"

    def send(self, note: Notification, timeout: float) -> None:
        headers = {"Title": note.title, "Priority": note.ntfy_priority, "Tags": "computer"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        response = requests.post(
            self.url, data=note.body.encode("utf-8"), headers=headers, timeout=timeout
        )
        response.raise_for_status()


@dataclass(frozen=True)
class Gotify:
    url: str
    token: str
    name: str = "gotify"

    def send(self, note: Notification, timeout: float) -> None:
        body = {"title": note.title, "message": note.body, "priority": note.gotify_priority}
        response = requests.post(
            f"{self.url.rstrip('/')}/message",
            json=body,
            headers={"X-Gotify-Key": self.token},
            timeout=timeout,
        )
        response.raise_for_status()


def configured_channels(cfg: Notifications) -> list[Channel]:
    channels: list[Channel] = []
    if cfg.discord_webhook_url.strip():
        channels.append(Discord(cfg.discord_webhook_url.strip()))
    if cfg.ntfy_url.strip():
        channels.append(Ntfy(cfg.ntfy_url.strip(), cfg.ntfy_token.strip()))
    # ADRG sends to Gotify only with both the URL and the application token.
    if cfg.gotify_url.strip() and cfg.gotify_token.strip():
        channels.append(Gotify(cfg.gotify_url.strip(), cfg.gotify_token.strip()))
    return channels
