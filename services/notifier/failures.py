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

Apprise does not hand back a response's headers, so a Retry-After is not
known here; Apprise's Discord honours Discord's own rate-limit headers itself
(it waits, and tries once more, before it reports a 429).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from shared.errors import brief

TRANSIENT_4XX = frozenset({408, 425, 429})
_STATUS = re.compile(r"\berror=(\d{3})(?:\d\d)?\b")
_EXCEPTION = re.compile(r"^(?:Socket|I/O) Exception:\s*(?P<text>.*)$", re.DOTALL)
_SSL_SOURCE = re.compile(r"\s*\(_ssl\.c:\d+\)?")
_LOUD = frozenset({"WARNING", "ERROR", "CRITICAL"})


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
