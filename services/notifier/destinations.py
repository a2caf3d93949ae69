"""Where notifications go: each destination sends through Apprise.

ADRG's keys (adrg_keys.py) and each URL of `notifications.urls` are one
destination each. Apprise sends; the outbox (outbox.py) decides when, and
whether to try again and when, from what a failure says (failures.py) and the
servers' replies heard while Apprise sent (replies.py). Whatever Warden
says about a destination (its name, a failure's reason) is redacted first
(redaction.py), and Apprise's own log lines, which can quote a URL whole, reach
Warden's log only that way.

Apprise is imported when the first destination is loaded, not before: with its
plugins (it loads them all to read one URL) it costs the notifier about 30 MB
of RSS, which a notifier with nothing configured does not pay.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from services.notifier.adrg_keys import AdrgDestination, adrg_destinations
from services.notifier.failures import Wait, asked_wait, explain
from services.notifier.redaction import destination_name, every_part, redact, url_secrets
from services.notifier.render import Notification
from services.notifier.replies import listening
from shared.config.model import Notifications

if TYPE_CHECKING:
    from types import ModuleType

    import apprise

# ADRG's Discord colours, by severity: Apprise colours a message by its type.
_COLOURS = {"info": "#7289DA", "warning": "#FF8C00", "critical": "#FF0000"}
_TYPES = {"info": "info", "warning": "warning", "critical": "failure"}
# A message in the default style: what a destination is loaded (and checked) with.
_PLAIN = Notification(kind="check", title="", body="", ntfy_priority="default", gotify_priority=4)
_NO_WAIT = Wait()


class DeliveryError(Exception):
    def __init__(
        self,
        reason: str,
        permanent: bool = False,
        rate_limited: bool = False,
        wait: Wait = _NO_WAIT,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.rate_limited = rate_limited
        # What the server's Retry-After asked for, if it said.
        self.wait = wait


@functools.cache
def _apprise() -> ModuleType:
    import apprise

    quiet = logging.getLogger("apprise")
    # Apprise's lines go into each delivery's result only, never to Warden's log as they
    # are (its debug lines quote whole URLs); and the exception behind a connection error
    # is a debug line, so every level is kept.
    quiet.propagate = False
    quiet.setLevel(logging.DEBUG)
    return apprise


class _Said(logging.Handler):
    """What Apprise logs on this thread while a URL is read: apprise.LogCapture hears
    every thread, and another destination may be failing (with its own secrets) meanwhile."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []
        self._thread = threading.get_ident()

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self._thread:
            self.lines.append(record.getMessage())


def _load(url: str, timeout: float) -> tuple[Any, str]:
    """Apprise's plugin for url, or None and why, as Apprise said it (not redacted).
    Warden's timeout holds unless the URL sets its own (cto, rto)."""
    apprise = _apprise()
    from apprise.plugins import url_to_dict

    said = _Said()
    logger = logging.getLogger("apprise")
    logger.addHandler(said)
    try:
        details = url_to_dict(url)
        plugin = None
        if details is not None:
            details.setdefault("cto", timeout)
            details.setdefault("rto", timeout)
            asset = apprise.AppriseAsset(
                html_notify_map={apprise.NotifyType(_TYPES[s]): c for s, c in _COLOURS.items()}
            )
            plugin = apprise.Apprise.instantiate(details, asset=asset)
    finally:
        logger.removeHandler(said)
    # The first line says why; a later "Could not load ..." repeats the URL's parts.
    return plugin, said.lines[0] if said.lines else ""


class Destination:
    """One place notifications go, through Apprise; `send` raises DeliveryError."""

    def __init__(
        self, name: str, key: str, url_for: Callable[[Notification], str], timeout: float
    ) -> None:
        self.name = name
        # The config key that names it, for errors.
        self.key = key
        self._url_for = url_for
        self._timeout = timeout
        # One Apprise per URL (ntfy's and Gotify's differ by priority), kept: Apprise's
        # Discord remembers Discord's rate limit between messages.
        self._services: dict[str, apprise.Apprise] = {}
        self._secrets: frozenset[str] = frozenset()
        # Apprise's private URL, less its query, of the first URL loaded.
        self.private_name = ""

    def load(self, note: Notification = _PLAIN) -> str | None:
        """Reads this destination's URL for note with Apprise: None, or why it cannot."""
        url = self._url_for(note)
        if url in self._services:
            return None
        plugin, said = _load(url, self._timeout)
        if plugin is None:
            reason = redact(said, every_part(url)) or "unknown to Apprise"
            return f"Apprise cannot use it: {reason}"
        self._secrets |= url_secrets(plugin.url(), plugin.url(privacy=True))
        self.private_name = self.private_name or destination_name(plugin.url(privacy=True))
        self._services[url] = _apprise().Apprise(plugin)
        return None

    def redact(self, text: str) -> str:
        return redact(text, self._secrets)

    def send(self, note: Notification) -> None:
        if (problem := self.load(note)) is not None:
            raise DeliveryError(problem, permanent=True)
        with listening() as heard:
            result = self._services[self._url_for(note)].notify(
                body=note.body,
                title=note.title,
                notify_type=_TYPES[note.severity],
                body_format="text",
                log_level=logging.DEBUG,
            )
        if result:
            return
        failure = explain((entry.level, entry.message) for one in result for entry in one.logs())
        # A copy: a worker Apprise stopped waiting for may still add to it.
        wait = asked_wait([(r.status, r.retry_after) for r in list(heard)], time.time())
        if wait.note is not None:
            wait = dataclasses.replace(wait, note=self.redact(wait.note))
        raise DeliveryError(
            self.redact(failure.reason), failure.permanent, failure.rate_limited, wait
        )


def _always(url: str) -> Callable[[Notification], str]:
    return lambda _note: url


def _from_adrg(found: AdrgDestination, timeout: float) -> Destination:
    return Destination(found.name, found.key, found.url_for, timeout)


def _built(cfg: Notifications) -> tuple[list[Destination], list[tuple[str, str]]]:
    adrg, problems = adrg_destinations(cfg)
    made = [_from_adrg(d, cfg.timeout_seconds) for d in adrg]
    made += [
        Destination("", f"notifications.urls.{n}", _always(url), cfg.timeout_seconds)
        for n, url in enumerate(cfg.urls)
    ]
    loaded: list[Destination] = []
    for destination in made:
        if (problem := destination.load()) is not None:
            problems.append((destination.key, problem))
        else:
            loaded.append(destination)
    taken: set[str] = {d.name for d in loaded if d.name}
    for destination in loaded:
        if not destination.name:
            name = base = destination.private_name
            count = 1
            while name in taken:
                count += 1
                name = f"{base} #{count}"
            destination.name = name
            taken.add(name)
    return loaded, problems


def check(cfg: Notifications) -> list[tuple[str, str]]:
    """(config key, reason) for each destination that cannot be used, read by Apprise itself;
    nothing to check, nothing imported."""
    return _built(cfg)[1]


def configured(cfg: Notifications) -> list[Destination]:
    """The destinations the config names (each one checked at start: see check)."""
    return _built(cfg)[0]
