"""An incident in one plain sentence: "21:40-21:41: jellyfin waited on disk 38 % of the
time; tdarr was using the same disk at 180 MB/s; tdarr was capped at 21:40:02 (1.6 s);
the stall ended 4 s later". Pure, given the clock's time zone."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from shared.messages.incidents import Contender, Incident, IncidentAction, PlayingStream
from shared.units import MB_PER_SEC

# (wall-clock seconds, strftime format) -> text; the governor's local time by default.
Clock = Callable[[float, str], str]

WORDS = {"io": "disk", "cpu": "CPU", "memory": "memory"}


def local_clock(t: float, fmt: str) -> str:
    return time.strftime(fmt, time.localtime(t))


def duration(seconds: float) -> str:
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 120 else f"{minutes // 60} h {minutes % 60} min"


def names(items: Sequence[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} and {items[-1]}"


def _span(incident: Incident, clock: Clock) -> str:
    start = clock(incident.started_at, "%H:%M")
    if incident.ended_at is None:
        return f"since {start}"
    end = clock(incident.ended_at, "%H:%M")
    return start if end == start else f"{start}-{end}"


def _stream(s: PlayingStream) -> str:
    who = ", ".join(x for x in (s.user, s.provider) if x)
    title = f"'{s.title}'" if s.title else "a stream"
    return f"{title} ({who})" if who else title


def _waited(incident: Incident) -> str:
    word = WORDS.get(incident.resource or "", "")
    if incident.kind == "buffering":
        shown = [_stream(s) for s in incident.buffering[:2]]
        if more := len(incident.buffering) - len(shown):
            shown.append(f"{more} more")
        said = f"{names(shown) or 'a stream'} buffered"
        if word and incident.peak_percent is not None:
            said += f"; the host waited on {word} up to {incident.peak_percent:.0f} % of the time"
        return said
    who = names([w.name for w in incident.waiters]) or "protected work"
    if incident.peak_percent is None:
        return f"{who} stalled on {word} (its pressure trigger fired)"
    up_to = "up to " if len(incident.waiters) > 1 else ""
    return f"{who} waited on {word} {up_to}{incident.peak_percent:.0f} % of the time"


def _mb(bps: float) -> str:
    return f"{bps / MB_PER_SEC:.3g} MB/s"


def _busy(c: Contender, resource: str | None) -> str:
    if resource == "io":
        where = "the disks" if c.same_disk is None else "the same disk"
        where = "another disk" if c.same_disk is False else where
        return f"{c.name} was using {where} at {_mb(c.score)}"
    if resource == "cpu":
        return f"{c.name} was using {c.score:.0f} % of the CPU"
    return f"{c.name}'s memory grew {_mb(c.score)}"


def _others(incident: Incident) -> str:
    if incident.contenders:
        return _busy(incident.contenders[0], incident.resource)
    if incident.contenders_from is None:
        return "no usage reading says who else was busy"
    return "nothing else was busy on it"


def _verb(action: IncidentAction) -> str:
    if action.what.startswith("paused"):
        return "paused"
    if action.what == "cpu.idle":
        return "moved to the idle CPU class"
    return "capped"


def _acted(incident: Incident, clock: Clock) -> str:
    action = incident.first_action
    if action is None:
        if incident.ended_at is None:
            return "Warden has not acted yet"
        top = incident.contenders[0] if incident.contenders else None
        if top is not None and top.kind == "container" and top.tier not in (2, 3):
            return f"Warden did not act ({top.name} is not in tier 2 or 3)"
        return "Warden did not act"
    after = incident.time_to_action_seconds
    when = clock(action.at, "%H:%M:%S") + (f" ({duration(after)})" if after is not None else "")
    return f"{action.target} was {_verb(action)} at {when}"


def _ended(incident: Incident) -> str:
    what = "the buffering" if incident.kind == "buffering" else "the stall"
    if incident.ended_at is None:
        return "it goes on"
    if incident.end_reason == "unknown":
        return f"its readings stopped after {duration(incident.ended_at - incident.started_at)}"
    action = incident.first_action
    if action is None:
        return f"{what} ended after {duration(incident.ended_at - incident.started_at)}"
    gap = incident.ended_at - action.at
    if gap < 0:
        return f"{what} had ended {duration(-gap)} before"
    return f"{what} ended {duration(gap)} later"


def sentence(incident: Incident, clock: Clock = local_clock) -> str:
    parts = [_waited(incident), _others(incident), _acted(incident, clock), _ended(incident)]
    return f"{_span(incident, clock)}: " + "; ".join(parts)
