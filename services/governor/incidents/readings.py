"""What an incident reads from the facts and keeps of them: the streams then, a waiter's
stall share, the disks its waiters used, the busiest host resource, and timelines kept
short. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from services.governor.incidents.usage import Sample
from services.governor.stalls import disks_used
from shared.messages import PressureFact, StreamsFact
from shared.messages.incidents import IncidentResource, PlayingStream, SharePoint, UsePoint

RESOURCES: tuple[IncidentResource, ...] = ("io", "cpu", "memory")
MAX_STREAMS = 32
P = TypeVar("P", SharePoint, UsePoint)


def bounded(points: Sequence[P], most: int) -> list[P]:
    """Every other point, from the last back, until no more than `most` are left."""
    kept = list(points)
    while len(kept) > most:
        kept = kept[(len(kept) - 1) % 2 :: 2]
    return kept


def streams_in(report: StreamsFact | None, states: tuple[str, ...]) -> list[PlayingStream] | None:
    if report is None:
        return None
    return [
        PlayingStream(
            title=s.title,
            user=s.user,
            provider=report.provider,
            state=s.state,
            transcode=s.transcode,
            hw_transcode=s.hw_transcode,
            bitrate_kbps=s.bitrate_kbps,
            local=s.local,
        )
        for s in report.sessions
        if s.state in states
    ][:MAX_STREAMS]


def share_of(reading: PressureFact, name: str, resource: str) -> float | None:
    for c in reading.containers:
        if c.name == name:
            return next((s.some_percent for s in c.stall if s.resource == resource), None)
    return None


def peak(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else max(a, b)


def disks_of(who: Sequence[str], sample: Sample | None) -> list[str] | None:
    """The disks these containers used in a reading; None: not known for one of them."""
    if sample is None:
        return None
    usage = [u for u in sample.resources.containers if u.name in who]
    if len(usage) != len(who):
        return None
    found = disks_used(usage)
    return sorted(found) if found is not None else None


def busiest(pressure: PressureFact | None) -> tuple[IncidentResource | None, float | None]:
    """The host resource with the highest some avg10 (what a buffering stream likely
    waited on), and that avg10; None: no pressure known."""
    if pressure is None:
        return None, None
    known = [
        (line.some.avg10, resource)
        for resource in RESOURCES
        if (line := getattr(pressure, resource)) is not None
    ]
    if not known:
        return None, None
    share, resource = max(known)
    return resource, share
