"""ADRG's notification keys as Apprise URLs, with the same meaning. Pure.

    discord_webhook_url  https://discord.com/api/webhooks/ID/TOKEN
                         -> discord://Warden@ID/TOKEN?format=markdown&avatar=no
    ntfy_url, ntfy_token https://SERVER/TOPIC
                         -> ntfys://SERVER/TOPIC?mode=private&token=TOKEN&priority=P&tags=T&image=no
    gotify_url, ..token  https://SERVER/PATH
                         -> gotifys://SERVER/PATH/TOKEN?priority=P

ADRG sent a Discord embed (title, description) from a bot named Warden, ntfy's
priority and tags, Gotify's priority; the URLs ask Apprise for the same. ntfy's
and Gotify's priority are the message's (by event kind, or `ntfy_priority`), so
their URL is made per message.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs, quote, urlencode, urlsplit

from services.notifier.render import Notification
from shared.config.model import Notifications

_KEY = "notifications"
# The webhook URL Discord hands out; canary and ptb clients hand out the same hooks.
_DISCORD = re.compile(
    r"^https?://(?:(?:ptb|canary)\.)?discord(?:app)?\.com/api(?:/v\d+)?/webhooks/"
    r"(?P<id>[0-9]+)/(?P<token>[A-Za-z0-9_-]+)/?(?:\?(?P<query>.*))?$"
)
# ADRG's (and ntfy's) names; Apprise calls ntfy's top priority max, not urgent.
_NTFY_PRIORITY = {"urgent": "max"}


@dataclass(frozen=True)
class AdrgDestination:
    # "discord", "ntfy" or "gotify": also the name its undelivered messages wait under.
    name: str
    key: str
    url_for: Callable[[Notification], str]


def gotify_level(priority: int) -> str:
    """Apprise knows five Gotify levels (0, 3, 5, 8, 10) and rounds any other down;
    Gotify's apps treat 1-3 alike (silent), 4-7 alike (a sound) and 8 up as high, so each
    of ADRG's numbers goes to Apprise's level in its own band."""
    if priority >= 10:
        return "emergency"
    if priority >= 8:
        return "high"
    if priority >= 4:
        return "normal"
    return "moderate" if priority >= 1 else "low"


def discord(webhook_url: str) -> AdrgDestination | str:
    """The destination, or why the key cannot be one (never quoting it: it holds the token)."""
    found = _DISCORD.match(webhook_url)
    if found is None:
        return "not a Discord webhook URL: expected https://discord.com/api/webhooks/ID/TOKEN"
    query = {"format": "markdown", "avatar": "no"}
    if thread := parse_qs(found["query"] or "").get("thread_id"):
        query["thread"] = thread[0]
    url = f"discord://Warden@{found['id']}/{found['token']}?{urlencode(query)}"
    return AdrgDestination("discord", f"{_KEY}.discord_webhook_url", lambda _note: url)


def ntfy(cfg: Notifications) -> AdrgDestination | str:
    parts = urlsplit(cfg.ntfy_url.strip())
    topics = [p for p in parts.path.split("/") if p]
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "expected http(s)://SERVER/TOPIC"
    if len(topics) != 1:
        # Apprise posts to the server's root, as ntfy's JSON API asks.
        return "expected http(s)://SERVER/TOPIC: a server at its root and one topic"
    base = f"{'ntfys' if parts.scheme == 'https' else 'ntfy'}://{parts.netloc}/{topics[0]}"
    token = cfg.ntfy_token.strip()

    def url_for(note: Notification) -> str:
        priority = cfg.ntfy_priority or note.ntfy_priority
        query = {"mode": "private", "image": "no"}
        query["priority"] = _NTFY_PRIORITY.get(priority, priority)
        if tags := list(dict.fromkeys([*cfg.ntfy_tags, *note.tags])):
            query["tags"] = ",".join(tags)
        if token:
            query["token"] = token
        return f"{base}?{urlencode(query, quote_via=quote)}"

    return AdrgDestination("ntfy", f"{_KEY}.ntfy_url", url_for)


def gotify(cfg: Notifications) -> AdrgDestination | str:
    parts = urlsplit(cfg.gotify_url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "expected http(s)://SERVER[/PATH]"
    scheme = "gotifys" if parts.scheme == "https" else "gotify"
    token = quote(cfg.gotify_token.strip(), safe="")
    base = f"{scheme}://{parts.netloc}{parts.path.rstrip('/')}/{token}"

    def url_for(note: Notification) -> str:
        return f"{base}?priority={gotify_level(note.gotify_priority)}"

    return AdrgDestination("gotify", f"{_KEY}.gotify_url", url_for)


def adrg_destinations(cfg: Notifications) -> tuple[list[AdrgDestination], list[tuple[str, str]]]:
    """The destinations ADRG's keys name, and (key, reason) for each key that cannot be one."""
    made: list[AdrgDestination | str] = []
    keys: list[str] = []
    if cfg.discord_webhook_url.strip():
        made.append(discord(cfg.discord_webhook_url.strip()))
        keys.append(f"{_KEY}.discord_webhook_url")
    if cfg.ntfy_url.strip():
        made.append(ntfy(cfg))
        keys.append(f"{_KEY}.ntfy_url")
    # ADRG sends to Gotify only with both the URL and the application token.
    if cfg.gotify_url.strip() and cfg.gotify_token.strip():
        made.append(gotify(cfg))
        keys.append(f"{_KEY}.gotify_url")
    found = [d for d in made if isinstance(d, AdrgDestination)]
    problems = [(key, d) for key, d in zip(keys, made, strict=True) if isinstance(d, str)]
    return found, problems
