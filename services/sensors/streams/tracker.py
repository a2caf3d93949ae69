"""What the sensors know about the streams, and how queries and webhooks change it. Pure.

A query's answer replaces everything: the server is the authority. When the
query fails, the reading is unknown (None), never 0, unless webhooks arrived
with it: those still say what happened (a play adds its session, a stop
removes it), so the event itself adjusts the sessions known before. A stop
cannot make an unknown reading known: other streams may be playing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from services.sensors.streams.common import CountPolicy, count_streams
from services.sensors.streams.webhooks import WebhookEvent
from shared.messages import StreamSession, StreamsFact
from shared.messages.facts import StreamProvider


@dataclass(frozen=True)
class Reading:
    # None: unknown.
    sessions: tuple[StreamSession, ...] | None
    source: str
    error: str | None = None


UNKNOWN = Reading(None, "none yet", "not queried yet")


def after_query(provider: str, result: Sequence[StreamSession] | str) -> Reading:
    """result: the sessions, or the error text when the query failed."""
    if isinstance(result, str):
        return Reading(None, f"{provider} api", result)
    return Reading(tuple(result), f"{provider} api")


def after_webhook(before: Reading, event: WebhookEvent, query_error: str) -> Reading:
    """Apply one webhook's own word, for when the server could not be asked."""
    source = f"{event.source} webhook"
    if event.action is None or event.session is None:
        return Reading(before.sessions, source, query_error)
    session = event.session
    if before.sessions is None:
        if event.action == "stopped":
            return Reading(None, source, query_error)
        return Reading((session,), source, query_error)
    others = tuple(s for s in before.sessions if s.id != session.id)
    if event.action == "stopped":
        return Reading(others, source, query_error)
    return Reading((*others, session), source, query_error)


def settle(
    before: Reading,
    provider: str,
    result: Sequence[StreamSession] | str,
    webhooks: Sequence[WebhookEvent],
) -> Reading:
    """The reading after one query, answering `webhooks` (those that arrived before it began)."""
    if not isinstance(result, str) or not webhooks:
        return after_query(provider, result)
    reading = before
    for event in webhooks:
        reading = after_webhook(reading, event, result)
    return reading


def to_fact(
    reading: Reading, host: str, provider: StreamProvider, policy: CountPolicy
) -> StreamsFact:
    sessions = list(reading.sessions) if reading.sessions is not None else []
    return StreamsFact(
        host=host,
        source=reading.source,
        provider=provider,
        count=count_streams(sessions, policy) if reading.sessions is not None else None,
        sessions=sessions,
        error=reading.error,
    )
