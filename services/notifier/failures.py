"""What a failed Apprise delivery says: the reason to tell, and whether a retry can mend it.
Pure.

Apprise's notify() answers only sent or not; why is in the log lines it wrote
while trying, which it hands back with the result (Apprise 2's per-service
result logs). Its warnings name the failure ("Failed to send ntfy notification
...: Internal server error., error=500.", "A Connection error occurred ..."),
and a debug line carries the exception behind a connection error. So:

- an HTTP status in the warnings (Apprise's plugins end them with `error=NNN`;
  ntfy's own codes are the status and two digits more, `error=40101`) decides:
  a 4xx other than 408, 425 and 429 is permanent (a wrong token or URL will not
  mend itself), 429 is being asked to slow down, anything else is transient;
- no status (a connection error, a timeout, a service that is not HTTP, such as
  email) is transient: retried with backoff until retry_max_attempts or
  retry_max_age_seconds, so a refusal Apprise does not number still ends.

Apprise does not hand back a response's headers: replies.py hears them while
it sends, and a Retry-After on an error reply (a 429 or a 503, RFC 9110 section
10.2.3) says how long to wait (retry_after, asked_wait); the outbox waits at
least that long. Apprise's Discord also honours Discord's own rate-limit headers
itself (it waits, and tries once more, before it reports a 429).
"""

from __future__ import annotations

import email.utils
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC

from shared.errors import brief

TRANSIENT_4XX = frozenset({408, 425, 429})
_STATUS = re.compile(r"\berror=(\d{3})(?:\d\d)?\b")
_EXCEPTION = re.compile(r"^(?:Socket|I/O) Exception:\s*(?P<text>.*)$", re.DOTALL)
_SSL_SOURCE = re.compile(r"\s*\(_ssl\.c:\d+\)?")
_LOUD = frozenset({"WARNING", "ERROR", "CRITICAL"})
# Warden takes a server's word for a wait up to an hour: longer than the rate limits
# services state (seconds to minutes), short enough that a typo or a broken proxy
# ("Retry-After: 86400") does not hold a destination's messages for a day.
RETRY_AFTER_MAX_SECONDS = 3600.0
_DELAY_SECONDS = re.compile(r"[0-9]+")
# A longer number is past the cap anyway, and int() refuses one of 4300 digits or more.
_MAX_DIGITS = 12


@dataclass(frozen=True)
class Failure:
    reason: str
    status: int | None = None

    @property
    def permanent(self) -> bool:
        status = self.status
        return status is not None and 400 <= status < 500 and status not in TRANSIENT_4XX

    @property
    def rate_limited(self) -> bool:
        return self.status == 429


def cause(exception: str) -> str:
    """The innermost cause of a requests/urllib3 exception's text: "[Errno 111] Connection
    refused", "Read timed out. (read timeout=5)"."""
    text = _SSL_SOURCE.sub("", exception.strip())
    if "Caused by " in text:
        inner = text.rsplit("Caused by ", 1)[1].rstrip(")\"' ")
        return inner.rsplit(": ", 1)[-1]
    return text.split("): ", 1)[-1]


def explain(entries: Iterable[tuple[str, str]]) -> Failure:
    """entries: (level name, message) as Apprise logged them while failing, in order."""
    warnings: list[str] = []
    causes: list[str] = []
    for level, message in entries:
        if level in _LOUD:
            warnings.append(message.strip())
        elif found := _EXCEPTION.match(message.strip()):
            causes.append(cause(found["text"]))
    statuses = [int(m) for w in warnings for m in _STATUS.findall(w)]
    reason = " ".join(dict.fromkeys(warnings)) or "not sent (Apprise said no more)"
    if causes:
        reason += f" ({causes[-1]})"
    return Failure(brief(reason), statuses[-1] if statuses else None)


@dataclass(frozen=True)
class Wait:
    """What a server's Retry-After asks: the seconds to wait (None: nothing usable), and
    why a value was not taken as it came (ignored, or capped), for the log."""

    seconds: float | None = None
    note: str | None = None


def retry_after(value: str, now: float) -> Wait:
    """A Retry-After value, delay-seconds or an HTTP-date, as seconds from now (wall-clock):
    a date gone by is 0, more than RETRY_AFTER_MAX_SECONDS is that, and anything else (a
    negative or fractional number, words, an impossible date) is ignored."""
    text = value.strip()
    quoted = repr(value[:40])
    if _DELAY_SECONDS.fullmatch(text):
        seconds = float(int(text)) if len(text) <= _MAX_DIGITS else RETRY_AFTER_MAX_SECONDS + 1
    else:
        try:
            when = email.utils.parsedate_to_datetime(text)
            # An HTTP-date is in GMT, whether or not it says so.
            seconds = max(0.0, when.replace(tzinfo=when.tzinfo or UTC).timestamp() - now)
        except (TypeError, ValueError, IndexError, OverflowError):
            return Wait(note=f"ignored Retry-After {quoted}: neither seconds nor an HTTP-date")
    if seconds > RETRY_AFTER_MAX_SECONDS:
        return Wait(
            RETRY_AFTER_MAX_SECONDS,
            f"Retry-After {quoted} cut to {RETRY_AFTER_MAX_SECONDS:.0f} s",
        )
    return Wait(seconds)


def asked_wait(replies: Iterable[tuple[int, str | None]], now: float) -> Wait:
    """The longest wait that the error replies (status, Retry-After) to one send ask for:
    the next try must come after every one of them. On a redirect, Retry-After is about
    following it (requests follows at once), not about the next try."""
    waits = [retry_after(value, now) for status, value in replies if status >= 400 and value]
    seconds = [w.seconds for w in waits if w.seconds is not None]
    notes = "; ".join(dict.fromkeys(w.note for w in waits if w.note))
    return Wait(max(seconds) if seconds else None, notes or None)
