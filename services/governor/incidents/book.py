"""The incident book: incidents opened, followed and closed from what the governor sees
and decides. Pure: (book, what one evaluation sees) -> the next book, events, and when
to look again.

An incident opens on a fresh pressure reading in which a protected container stalls on
a resource past `protect.stall_percent` (one incident per resource, however many
protected containers stall), or when the media server reports a stream buffering. It
goes on while the stall comes back within `incidents.close_after_seconds`, and closes
once calm has held that long (ending when the calm began). Unknown never opens one and
never calms one: an incident whose readings stay unknown that long closes as "unknown",
ending at the last stall seen.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from services.governor.incidents.actions import Held, added
from services.governor.incidents.readings import RESOURCES
from services.governor.incidents.sentence import Clock, local_clock, sentence
from services.governor.incidents.turn import BUFFERING, Open, Turn
from services.governor.incidents.usage import Sample
from services.governor.outcome import EventDraft
from services.governor.rule import View
from shared.config.model import Incidents
from shared.messages.incidents import Incident, IncidentLog, SharePoint


@dataclass(frozen=True)
class Book:
    open: Mapping[str, Open] = field(default_factory=dict)
    # Newest first.
    closed: tuple[Incident, ...] = ()
    # Usage readings within the window, oldest first.
    samples: tuple[Sample, ...] = ()
    # Per resource, the protected containers' highest stall share over the window.
    recent: Mapping[str, tuple[SharePoint, ...]] = field(default_factory=dict)
    reading_at: float | None = None
    sampled_at: float | None = None
    # What the last decision held each target to; None: no decision seen yet.
    held: Mapping[str, Held] | None = None

    def log(self, host: str, cfg: Incidents) -> IncidentLog:
        live = sorted((o.incident for o in self.open.values()), key=lambda i: -i.started_at)
        return IncidentLog(host=host, incidents=[*live, *self.closed][: max(cfg.keep, len(live))])


def restored(log: IncidentLog) -> Book:
    """The book a restarted governor goes on from: its own retained incidents."""
    live = {
        key_of(i): Open(i, seen_at=max([i.started_at, *(p.t for p in i.stall)]))
        for i in log.incidents
        if i.ended_at is None
    }
    return Book(open=live, closed=tuple(i for i in log.incidents if i.ended_at is not None))


def key_of(incident: Incident) -> str:
    return BUFFERING if incident.kind == "buffering" else f"stall-{incident.resource}"


@dataclass(frozen=True)
class Seen:
    """What one evaluation sees: the fresh facts (view), when the resources reading came,
    and what the decision just made holds each target to."""

    view: View
    resources_at: float | None
    held: Mapping[str, Held]


@dataclass(frozen=True)
class Step:
    book: Book
    events: list[EventDraft]
    # Something a reader must see now (opened, closed, acted, contenders found).
    changed: bool
    # Only the timelines grew.
    grown: bool
    wake_at: float | None


def step(book: Book, seen: Seen, clock: Clock = local_clock) -> Step:
    view = seen.view
    cfg = view.cfg.incidents
    if not cfg.enabled:
        return Step(Book(held=dict(seen.held)), [], False, False, None)
    now = view.now
    samples = list(book.samples)
    fresh_sample = None
    arrived = seen.resources_at
    if view.resources is not None and arrived is not None and arrived != book.sampled_at:
        fresh_sample = Sample(arrived, view.resources, view.gpu)
        samples.append(fresh_sample)
    kept = [s for s in samples if s.t >= now - cfg.window_seconds] or samples[-1:]
    turn = Turn(view, clock, book.open, book.recent, kept)

    reading_at = book.reading_at
    fresh = view.pressure_seen_at is not None and (
        reading_at is None or view.pressure_seen_at > reading_at
    )
    if view.pressure is not None and fresh and view.pressure_seen_at is not None:
        turn.on_reading(view.pressure, view.pressure_seen_at, kept)
        reading_at = view.pressure_seen_at
    elif view.pressure is None:
        turn.unknown([f"stall-{r}" for r in RESOURCES])
    if cfg.buffering:
        turn.on_streams(view.stream_report, view.pressure)
    if fresh_sample is not None:
        turn.on_sample(fresh_sample)
    if book.held is not None:
        turn.on_actions(added(book.held, seen.held, view.cpu_count, now))
    wake = turn.close_due()

    for key, was in list(turn.open.items()):
        turn.open[key] = replace(
            was,
            incident=was.incident.model_copy(update={"sentence": sentence(was.incident, clock)}),
        )
    horizon = now - cfg.keep_days * 86400
    closed = [
        i
        for i in [*sorted(turn.closed, key=lambda i: -i.started_at), *book.closed]
        if (i.ended_at or i.started_at) >= horizon
    ][: cfg.keep]
    next_book = Book(
        open=turn.open,
        closed=tuple(closed),
        samples=tuple(kept),
        recent=turn.recent,
        reading_at=reading_at,
        sampled_at=seen.resources_at if fresh_sample is not None else book.sampled_at,
        held=dict(seen.held),
    )
    pruned = len(closed) != len(book.closed) + len(turn.closed)
    return Step(next_book, turn.events, turn.changed or pruned, turn.grown, wake)
