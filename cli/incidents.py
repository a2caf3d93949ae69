"""What `warden incidents` prints, from the governor's retained incidents. Pure:
(the log, which one, a clock) -> lines; colours only when asked (a terminal)."""

from __future__ import annotations

import time
from collections.abc import Callable

from cli.views import Style, _table
from shared.messages.incidents import Contender, Incident, IncidentLog, PlayingStream
from shared.units import MB_PER_SEC

# (wall-clock seconds, strftime format) -> text; local time by default.
Clock = Callable[[float, str], str]
WORDS = {"io": "disk", "cpu": "CPU", "memory": "memory"}


def local_clock(t: float, fmt: str) -> str:
    return time.strftime(fmt, time.localtime(t))


def _mb(bps: float | None) -> str:
    return "-" if bps is None else f"{bps / MB_PER_SEC:.3g} MB/s"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} %"


def listing(
    log: IncidentLog | None, limit: int, style: Style, clock: Clock = local_clock
) -> list[str]:
    """The latest incidents, newest first: when, and the sentence."""
    if log is None:
        return ["no incidents published yet (is the governor running, incidents.enabled?)"]
    if not log.incidents:
        return ["no incidents: no protected container has stalled, no stream has buffered"]
    lines = []
    for incident in log.incidents[:limit]:
        mark = style.red("open") if incident.ended_at is None else style.dim("    ")
        day = clock(incident.started_at, "%Y-%m-%d")
        lines.append(f"{mark} {day}  {style.bold(incident.id)}")
        lines.append(f"     {incident.sentence}")
    lines.append(style.dim("`warden incidents ID` (or `last`) tells one in full"))
    return lines


def find(log: IncidentLog | None, wanted: str) -> Incident | None:
    """An incident by id, or the newest with `last`."""
    if log is None or not log.incidents:
        return None
    if wanted == "last":
        return log.incidents[0]
    return next((i for i in log.incidents if i.id == wanted), None)


def _stream(s: PlayingStream) -> str:
    said = [x for x in (s.user, s.provider, s.state) if x]
    said += ["hardware transcode" if s.hw_transcode else "transcode"] if s.transcode else []
    return f"'{s.title}' ({', '.join(said)})" if s.title else ", ".join(said)


def _contender_row(c: Contender, resource: str | None) -> list[str]:
    use = _mb(c.score) if resource in ("io", None) else _pct(c.score)
    if resource == "memory":
        use = f"{_mb(c.score)} growth"
    if c.same_disk is not None and resource in ("io", None):
        use += " (same disk)" if c.same_disk else " (other disk)"
    gpu = "-" if c.gpu_percent is None else f"{c.gpu_percent:.0f} %"
    tier = "-" if c.tier is None else str(c.tier)
    kind = "group" if c.kind == "process_group" else "container"
    return [c.name, kind, tier, use, _pct(c.cpu_percent), _mb(c.io_bytes_per_second), gpu]


def detail(incident: Incident, style: Style, clock: Clock = local_clock) -> list[str]:
    """One incident in full: who waited, the streams, the contenders, every action."""
    what = WORDS.get(incident.resource or "", "unknown")
    span = clock(incident.started_at, "%Y-%m-%d %H:%M:%S")
    if incident.ended_at is None:
        span += ", still open"
    else:
        span += f" - {clock(incident.ended_at, '%H:%M:%S')} ({incident.end_reason})"
    lines = [
        style.bold(f"{incident.id}: {incident.kind} on {what}, {span}"),
        f"  {incident.sentence}",
    ]
    if incident.waiters:
        waited = ", ".join(f"{w.name} (peak {_pct(w.peak_percent)})" for w in incident.waiters)
        lines.append(f"  waited:     {waited}")
    if incident.buffering:
        lines.append(f"  buffering:  {'; '.join(_stream(s) for s in incident.buffering)}")
    if incident.disks:
        lines.append(f"  disks:      {', '.join(incident.disks)}")
    if incident.streams is None:
        lines.append("  streams:    unknown (no word from the media server)")
    else:
        shown = "; ".join(_stream(s) for s in incident.streams) or "none playing"
        lines.append(f"  streams:    {shown}")
    if incident.contenders:
        since = incident.contenders_from or incident.started_at
        until = incident.contenders_to or incident.started_at
        lines.append(
            f"  contenders, by their use of the {what} "
            f"(mean {clock(since, '%H:%M:%S')}-{clock(until, '%H:%M:%S')}):"
        )
        rows = [["NAME", "KIND", "TIER", "USE", "CPU", "I/O", "GPU"]]
        rows += [_contender_row(c, incident.resource) for c in incident.contenders]
        lines += [f"    {line}" for line in _table(rows, style)]
    else:
        lines.append("  contenders: none known")
    if incident.actions:
        lines.append("  what Warden did:")
        for a in incident.actions:
            after = a.at - incident.started_at
            by = f" ({', '.join(a.rules)})" if a.rules else ""
            lines.append(
                f"    {clock(a.at, '%H:%M:%S')} (+{after:.1f} s)  {a.target}: {a.what}{by}"
            )
        cleared = {True: "yes", False: "no", None: "not yet"}[incident.cleared_after_action]
        lines.append(
            f"  stall:      {_pct(incident.percent_before_action)} before the first action, "
            f"{_pct(incident.percent_after_action)} after; ended after it: {cleared}"
        )
    else:
        lines.append("  what Warden did: nothing")
    return lines


def naming(log: IncidentLog | None, name: str) -> Incident | None:
    """The newest incident that names a container or group: it waited, was among the top
    three contenders, or was acted on."""
    for incident in log.incidents if log else []:
        named = {w.name for w in incident.waiters}
        named |= {c.name for c in incident.contenders[:3]}
        named |= {a.target for a in incident.actions}
        if name in named:
            return incident
    return None
