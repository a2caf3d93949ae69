"""ADRG's notifications (Discord, ntfy, Gotify), any Apprise URL, and Warden's delivery
settings.

Only the shape of an Apprise URL is checked here: every service reads this model, and
Apprise (with its hundred plugins) is loaded by the notifier alone, which checks each URL
with Apprise itself at start (services/notifier/destinations.py).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, get_args

from pydantic import AfterValidator, BeforeValidator, Field, model_validator

from shared.config.base import Seconds, Section
from shared.messages.events import AdrgEvent, NotifyEvent

# ADRG's default notify_on: every event it knows, none of Warden's own.
ADRG_NOTIFY_ON: list[NotifyEvent] = list(get_args(AdrgEvent))


def _int_as_text(value: object) -> object:
    # YAML reads `ntfy_priority: 4` as a number; ntfy's header takes the text.
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


# Apprise's own rule for a URL's scheme (apprise.utils.parse.GET_SCHEMA_RE).
_APPRISE_SCHEME = re.compile(r"^\s*[a-z0-9]{1,12}://", re.IGNORECASE)


def _apprise_shaped(url: str) -> str:
    # The URL itself is never quoted back: it holds the service's secrets.
    if not _APPRISE_SCHEME.match(url):
        raise ValueError("not an Apprise URL: expected SCHEME://... (as tgram://BOT_TOKEN/CHAT_ID)")
    return url.strip()


AppriseUrl = Annotated[str, AfterValidator(_apprise_shaped)]

NtfyPriority = Annotated[
    Literal["min", "low", "default", "high", "urgent", "1", "2", "3", "4", "5"],
    BeforeValidator(_int_as_text),
]


class Notifications(Section):
    ADRG_KEYS = frozenset(
        {
            "notify_on",
            "discord_webhook_url",
            "ntfy_url",
            "ntfy_token",
            "gotify_url",
            "gotify_token",
        }
    )

    # ADRG sends every event when notify_on is empty; Warden keeps that meaning.
    notify_on: list[NotifyEvent] = Field(
        default=ADRG_NOTIFY_ON, description="the event kinds sent; empty: every kind, Warden's too"
    )
    discord_webhook_url: str = Field(
        default="",
        description="Discord webhook URL (sent through Apprise's `discord://`); empty: no Discord",
    )
    ntfy_url: str = Field(
        default="", description="ntfy topic URL (Apprise's `ntfy(s)://`); empty: no ntfy"
    )
    ntfy_token: str = Field(default="", description="ntfy access token; empty: none sent")
    gotify_url: str = Field(
        default="", description="Gotify server URL (Apprise's `gotify(s)://`); empty: no Gotify"
    )
    gotify_token: str = Field(default="", description="Gotify application token")
    urls: list[AppriseUrl] = Field(
        default=[],
        description="more destinations, each an Apprise URL (Telegram, Pushover, email, ...)",
    )
    timeout_seconds: Annotated[float, Field(gt=0)] = Field(
        default=5,
        description="connect and read timeout (seconds) of each delivery, "
        "unless an Apprise URL sets its own `cto`/`rto`",
    )
    ntfy_priority: NtfyPriority | None = Field(
        default=None, description="ntfy priority of every message; none: by event (urgent ... low)"
    )
    ntfy_tags: list[Annotated[str, Field(min_length=1, pattern=r"^[^,\s]+$")]] = Field(
        default=["computer"], description="ntfy tags of every message"
    )
    outbox_file: str = Field(
        default="/var/lib/warden/notifier-outbox.json",
        description="undelivered notifications, kept across restarts (left at the default "
        "under systemd, warden-stack or compose: in the service's own `$STATE_DIRECTORY`, "
        "/var/lib/warden/notifier)",
    )
    retry_initial_seconds: Annotated[float, Field(gt=0)] = Field(
        default=2,
        description="first retry delay (seconds) of a failed delivery; it doubles each time",
    )
    retry_max_seconds: Annotated[float, Field(gt=0)] = Field(
        default=300,
        description="longest retry delay (seconds) of Warden's backoff; a server's "
        "`Retry-After` may ask for more, up to an hour",
    )
    retry_max_attempts: Annotated[int, Field(ge=1)] = Field(
        default=10, description="attempts per destination before a notification is dropped (logged)"
    )
    retry_max_age_seconds: Annotated[float, Field(gt=0)] = Field(
        default=6 * 3600,
        description="an older undelivered notification is dropped (logged), not sent",
    )
    dedup_window_seconds: Seconds = Field(
        default=60,
        description="the same event and message again within this is told once, with a count",
    )

    def wants(self, event: str) -> bool:
        return not self.notify_on or event in self.notify_on

    @model_validator(mode="after")
    def _backoff_ordered(self) -> Notifications:
        if self.retry_initial_seconds > self.retry_max_seconds:
            raise ValueError("retry_initial_seconds must not be larger than retry_max_seconds")
        return self
