"""Schedule windows as spans of real time, in a time zone, across midnight and DST. Pure.

A window is wall-clock time (`mon 01:00-07:00`) in a zone; a span is the real
time (epoch seconds) one occurrence of it covers. Occurrences are laid out from
two days before to nine days after the moment asked about, so every weekly
window is seen, then overlapping and touching spans are merged: inside a
schedule is inside any of its spans, and its next change is the end of the
span it is in, or the start of the next one.

Clock changes keep a window's wall-clock meaning: 01:00-07:00 lasts five hours
on the night the clocks spring forward and seven on the night they fall back.
A start or end the clocks skip (02:30 in a spring-forward gap) is the moment
they skip to; one they pass twice (02:30 when they fall back) is its first.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

from shared.config.schedules import DAYS, Window, hhmm

DAYS_BEFORE, DAYS_AFTER = 2, 9


@dataclass(frozen=True, order=True)
class Span:
    start: float
    end: float

    def holds(self, now: float) -> bool:
        return self.start <= now < self.end


def instant(day: date, hour: int, minute: int, zone: tzinfo) -> float:
    """The real time of a wall-clock time on a day in a zone (see the module's rules)."""
    if hour == 24:
        day, hour = day + timedelta(days=1), 0
    wall = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)
    first = wall.timestamp()  # fold 0: the first of two, or in a gap the offset before it
    back = datetime.fromtimestamp(first, zone)
    if (back.date(), back.hour, back.minute) == (day, hour, minute):
        return first
    # In a gap: the clocks jump over this time. The jump happens between the instant read with
    # the offset after it (fold 1, earlier) and the one read with the offset before (fold 0).
    low, high = wall.replace(fold=1).timestamp(), first
    before = datetime.fromtimestamp(low, zone).utcoffset()
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, zone).utcoffset() == before:
            low = middle
        else:
            high = middle
    return high


def horizon(zone: tzinfo, around: float) -> float:
    """Where the occurrences laid out around a moment end: a span reaching it may go on."""
    today = datetime.fromtimestamp(around, zone).date()
    return instant(today + timedelta(days=DAYS_AFTER + 1), 0, 0, zone)


def occurrences(windows: Iterable[Window], zone: tzinfo, around: float) -> list[Span]:
    """Every occurrence of the windows from two days before `around` to nine days after."""
    today = datetime.fromtimestamp(around, zone).date()
    spans = []
    for offset in range(-DAYS_BEFORE, DAYS_AFTER + 1):
        day = today + timedelta(days=offset)
        for window in windows:
            if DAYS[day.weekday()] not in window.days:
                continue
            start, end = hhmm(window.start), hhmm(window.end)
            end_day = day if end > start else day + timedelta(days=1)
            span = Span(instant(day, *start, zone), instant(end_day, *end, zone))
            if span.end > span.start:  # a window wholly inside a skipped hour does not happen
                spans.append(span)
    return merged(spans)


def merged(spans: Iterable[Span]) -> list[Span]:
    """Overlapping and touching spans as one, in order."""
    result: list[Span] = []
    for span in sorted(spans):
        if result and span.start <= result[-1].end:
            last = result[-1]
            result[-1] = Span(last.start, max(last.end, span.end))
        else:
            result.append(span)
    return result


def without(spans: Sequence[Span], cut: Span) -> list[Span]:
    """The spans less the time `cut` covers."""
    result = []
    for span in spans:
        if span.end <= cut.start or span.start >= cut.end:
            result.append(span)
            continue
        if span.start < cut.start:
            result.append(Span(span.start, cut.start))
        if span.end > cut.end:
            result.append(Span(cut.end, span.end))
    return result


def current_or_next(spans: Sequence[Span], at: float) -> Span | None:
    """The span `at` is in, else the first after it."""
    return next((s for s in spans if s.end > at), None)


@dataclass(frozen=True)
class Where:
    inside: bool
    # When inside changes next: the span's end, or the next span's start; None: not within
    # the days laid out (no window starts on any of them, or one span covers them all).
    next_change: float | None


def where(spans: Sequence[Span], now: float, until: float = float("inf")) -> Where:
    """until: the horizon the spans were laid out to; a span reaching it has no known end."""
    span = current_or_next(spans, now)
    if span is None:
        return Where(False, None)
    if span.holds(now):
        return Where(True, span.end if span.end < until else None)
    return Where(False, span.start)
