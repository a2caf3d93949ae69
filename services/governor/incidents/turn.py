"""One step of the incident book, worked through: each fresh reading opens, follows or
calms the stall incidents, the streams open or calm the buffering one, a usage reading
ranks contenders and grows the timelines, a tighter decision is an action, and a calm
(or unknown) that has lasted closes. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from services.governor.incidents.actions import answers
from services.governor.incidents.readings import (
    MAX_STREAMS,
    RESOURCES,
    bounded,
    busiest,
    disks_of,
    peak,
    share_of,
    streams_in,
)
from services.governor.incidents.sentence import Clock, sentence
from services.governor.incidents.usage import Sample, rank, use_now
from services.governor.outcome import EventDraft, earliest
from services.governor.rule import View
from services.governor.stalls import Stall, highest_share, stall_of
from shared.messages import PressureFact, StreamsFact
from shared.messages.events import Severity
from shared.messages.incidents import (
    Incident,
    IncidentAction,
    IncidentResource,
    SharePoint,
    UsePoint,
    Waiter,
)

BUFFERING = "buffering"
MAX_ACTIONS = 20


@dataclass(frozen=True)
class Open:
    incident: Incident
    # When the latest stall (or buffering) was seen.
    seen_at: float
    calm_since: float | None = None
    unknown_since: float | None = None


class Turn:
    """One step's working state: the book's parts as they change, and what to announce."""

    def __init__(
        self,
        view: View,
        clock: Clock,
        live: Mapping[str, Open],
        recent: Mapping[str, tuple[SharePoint, ...]],
        samples: Sequence[Sample],
    ) -> None:
        self.clock = clock
        self.samples = list(samples)
        self.recent = recent
        self.view = view
        self.cfg = view.cfg.incidents
        self.now = view.now
        self.open: dict[str, Open] = dict(live)
        self.closed: list[Incident] = []
        self.events: list[EventDraft] = []
        self.changed = False
        self.grown = False

    # --- opening ------------------------------------------------------------------

    def announce(self, incident: Incident, phase: str) -> None:
        details: dict[str, str | int | float | bool | None] = {
            "incident": incident.id,
            "phase": phase,
            "kind": incident.kind,
            "resource": incident.resource,
            "waiters": ", ".join(w.name for w in incident.waiters),
            "top_contender": incident.contenders[0].name if incident.contenders else None,
            "time_to_action_seconds": incident.time_to_action_seconds,
        }
        severity: Severity = "warning" if phase == "opened" else "info"
        self.events.append(EventDraft("incident", incident.sentence, severity, details))
        self.changed = True

    def start(self, key: str, incident: Incident, samples: Sequence[Sample]) -> None:
        window = [s for s in samples if incident.started_at - self.cfg.window_seconds <= s.t]
        window = [s for s in window if s.t <= incident.started_at]
        incident = self.ranked(incident, window)
        if incident.contenders and window:
            names = [c.name for c in incident.contenders]
            disks = frozenset(incident.disks) if incident.disks is not None else None
            use = [
                UsePoint(t=s.t, use=use_now(incident.resource or "io", s, names, disks))
                for s in window
            ]
            incident = incident.model_copy(update={"use": use})
        incident = incident.model_copy(update={"sentence": sentence(incident, self.clock)})
        self.open[key] = Open(incident, seen_at=incident.started_at)
        self.announce(incident, "opened")

    def ranked(self, incident: Incident, samples: Sequence[Sample]) -> Incident:
        if not samples:
            return incident
        exclude = [w.name for w in incident.waiters]
        disks = frozenset(incident.disks) if incident.disks is not None else None
        contenders = rank(
            samples,
            incident.resource or "io",
            disks,
            exclude,
            self.view.matcher,
            self.cfg.contenders,
        )
        return incident.model_copy(
            update={
                "contenders": contenders,
                "contenders_from": samples[0].t,
                "contenders_to": samples[-1].t,
            }
        )

    # --- stalls ------------------------------------------------------------------

    def on_reading(self, reading: PressureFact, t: float, samples: Sequence[Sample]) -> None:
        protect, matcher = self.view.cfg.protect, self.view.matcher
        recent = dict(self.recent)
        for resource in RESOURCES:
            share = highest_share(matcher, reading, resource)
            points = recent.get(resource, ())
            if share is not None:
                points = (*points, SharePoint(t=t, percent=share))
            recent[resource] = tuple(p for p in points if p.t >= t - self.cfg.window_seconds)
            stall = stall_of(protect, matcher, reading, resource)
            key = f"stall-{resource}"
            was = self.open.get(key)
            if stall.state == "stalled" and was is None:
                self.start(key, self.opened(resource, stall, reading, t, recent[resource]), samples)
            elif stall.state == "stalled" and was is not None:
                self.stalled_again(key, was, stall, reading, share, t)
            elif was is not None:
                self.quiet(key, was, stall.state == "calm", share, t)
        self.recent = recent
        buffering = self.open.get(BUFFERING)
        if buffering is not None and buffering.incident.resource is not None:
            line = getattr(reading, buffering.incident.resource)
            if line is not None:
                self.point(BUFFERING, buffering, line.some.avg10, t)

    def opened(
        self,
        resource: IncidentResource,
        stall: Stall,
        reading: PressureFact,
        t: float,
        lead: Sequence[SharePoint],
    ) -> Incident:
        waiters = [Waiter(name=n, peak_percent=share_of(reading, n, resource)) for n in stall.who]
        latest = self.samples[-1] if self.samples else None
        disks = disks_of(stall.who, latest) if resource == "io" else None
        return Incident(
            id=f"stall-{resource}-{int(t * 1000)}",
            kind="stall",
            resource=resource,
            started_at=t,
            waiters=waiters,
            peak_percent=stall.share,
            percent_before_action=stall.share,
            disks=disks,
            streams=streams_in(self.view.stream_report, ("playing", "buffering")),
            stall=bounded(lead, self.cfg.timeline_points),
        )

    def stalled_again(
        self,
        key: str,
        was: Open,
        stall: Stall,
        reading: PressureFact,
        share: float | None,
        t: float,
    ) -> None:
        incident = was.incident
        peaks = {w.name: w.peak_percent for w in incident.waiters}
        for name in stall.who:
            peaks[name] = peak(peaks.get(name), share_of(reading, name, incident.resource or ""))
        waiters = [Waiter(name=n, peak_percent=p) for n, p in peaks.items()]
        if len(waiters) != len(incident.waiters):
            self.changed = True
        update: dict[str, object] = {
            "waiters": waiters,
            "peak_percent": peak(incident.peak_percent, stall.share),
        }
        if not incident.actions:
            update["percent_before_action"] = stall.share
        incident = incident.model_copy(update=update)
        self.open[key] = Open(incident, seen_at=t)
        self.point(key, self.open[key], share, t)

    def quiet(self, key: str, was: Open, calm: bool, share: float | None, t: float) -> None:
        if calm:
            since = was.calm_since if was.calm_since is not None else t
            self.open[key] = replace(was, calm_since=since, unknown_since=None)
            self.point(key, self.open[key], share, t)
        elif was.unknown_since is None:
            self.open[key] = replace(was, unknown_since=t)

    def point(self, key: str, was: Open, share: float | None, t: float) -> None:
        """A reading on the timeline, and the share after the first action once a PSI
        window has passed since it."""
        if share is None:
            return
        incident = was.incident
        stall = bounded([*incident.stall, SharePoint(t=t, percent=share)], self.cfg.timeline_points)
        update: dict[str, object] = {"stall": stall}
        action = incident.first_action
        window = self.view.cfg.sensors.psi_window_seconds
        if action is not None and incident.percent_after_action is None and t >= action.at + window:
            update["percent_after_action"] = share
            self.changed = True
        self.open[key] = replace(was, incident=incident.model_copy(update=update))
        self.grown = True

    def unknown(self, keys: Sequence[str]) -> None:
        for key in keys:
            was = self.open.get(key)
            if was is not None and was.unknown_since is None:
                self.open[key] = replace(was, unknown_since=self.now)

    # --- buffering ----------------------------------------------------------------

    def on_streams(self, report: StreamsFact | None, pressure: PressureFact | None) -> None:
        was = self.open.get(BUFFERING)
        if report is None:
            self.unknown([BUFFERING])
            return
        buffering = streams_in(report, ("buffering",)) or []
        if not buffering:
            if was is not None and was.calm_since is None:
                self.open[BUFFERING] = replace(was, calm_since=self.now, unknown_since=None)
            return
        if was is not None:
            seen = [
                *was.incident.buffering,
                *(s for s in buffering if s not in was.incident.buffering),
            ]
            if len(seen) != len(was.incident.buffering):
                self.changed = True
            incident = was.incident.model_copy(update={"buffering": seen[:MAX_STREAMS]})
            self.open[BUFFERING] = Open(incident, seen_at=self.now)
            return
        resource, share = busiest(pressure)
        incident = Incident(
            id=f"buffering-{resource or 'none'}-{int(self.now * 1000)}",
            kind="buffering",
            resource=resource,
            started_at=self.now,
            buffering=buffering,
            peak_percent=share,
            streams=streams_in(report, ("playing", "buffering")),
            stall=[SharePoint(t=self.now, percent=share)] if share is not None else [],
        )
        self.start(BUFFERING, incident, self.samples)

    # --- usage and actions -------------------------------------------------------------

    def on_sample(self, sample: Sample) -> None:
        for key, was in list(self.open.items()):
            incident = was.incident
            if incident.kind == "stall" and incident.resource == "io" and incident.disks is None:
                found = disks_of([w.name for w in incident.waiters], sample)
                if found is not None:
                    # Their disks known at last: who else used those is ranked anew.
                    incident = incident.model_copy(update={"disks": found, "contenders": []})
            # None known yet (no reading before the start, or only a first one, which
            # has no rates): the readings since then say.
            if not incident.contenders:
                since = incident.started_at - self.cfg.window_seconds
                incident = self.ranked(incident, [s for s in self.samples if s.t >= since])
                self.changed = self.changed or bool(incident.contenders)
            if incident.contenders and (not incident.use or incident.use[-1].t < sample.t):
                names = [c.name for c in incident.contenders]
                disks = frozenset(incident.disks) if incident.disks is not None else None
                point = UsePoint(
                    t=sample.t, use=use_now(incident.resource or "io", sample, names, disks)
                )
                use = bounded([*incident.use, point], self.cfg.timeline_points)
                incident = incident.model_copy(update={"use": use})
                self.grown = True
            self.open[key] = replace(was, incident=incident)

    def on_actions(self, actions: Sequence[IncidentAction]) -> None:
        for key, was in list(self.open.items()):
            incident = was.incident
            resource = incident.resource if incident.kind == "stall" else None
            mine = [a for a in actions if answers(a, resource)]
            if not mine:
                continue
            update: dict[str, object] = {"actions": [*incident.actions, *mine][:MAX_ACTIONS]}
            if not incident.actions:
                update["time_to_action_seconds"] = max(0.0, mine[0].at - incident.started_at)
            self.open[key] = replace(was, incident=incident.model_copy(update=update))
            self.changed = True

    # --- closing ----------------------------------------------------------------------

    def close_due(self) -> float | None:
        wakes: list[float] = []
        after = self.cfg.close_after_seconds
        for key, was in list(self.open.items()):
            incident = was.incident
            if was.calm_since is not None and self.now - was.calm_since >= after:
                ended = incident.model_copy(
                    update={
                        "ended_at": max(incident.started_at, was.calm_since),
                        "end_reason": "calm",
                        "cleared_after_action": True if incident.actions else None,
                    }
                )
            elif was.unknown_since is not None and self.now - was.unknown_since >= after:
                ended = incident.model_copy(
                    update={
                        "ended_at": max(incident.started_at, was.seen_at),
                        "end_reason": "unknown",
                        "cleared_after_action": False if incident.actions else None,
                    }
                )
            else:
                since = earliest(was.calm_since, was.unknown_since)
                if since is not None:
                    wakes.append(since + after)
                continue
            action = ended.first_action
            if action is not None and ended.percent_after_action is None:
                # Closed within a PSI window of the action: the last reading after it says.
                later = [p.percent for p in ended.stall if p.t > action.at]
                ended = ended.model_copy(
                    update={"percent_after_action": later[-1] if later else None}
                )
            ended = ended.model_copy(update={"sentence": sentence(ended, self.clock)})
            del self.open[key]
            self.closed.append(ended)
            self.announce(ended, "closed")
        return min(wakes, default=None)
