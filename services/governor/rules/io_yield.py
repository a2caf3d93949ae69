"""I/O yield (part of Warden's protect, beside ADRG's rules): bulk work gives way on the disk
while protected work uses it.

A bulk writer at full speed hurts a stream before any stall can be seen: on the
test machine a hog wrote 1.1 GiB/s, and what it freed in the quarter second
before a limit could land was discarded at the next journal commit, stalling
every writer for the seconds after, a limit or not. So while any protected
container does I/O (at least protect.active_io_mb_per_sec, read and written) or
stalls on io, every tier-3 container gets io.max at io_yield_mb_per_sec each
way (when it starts and ends: yielding.py): a job that starts then starts
capped. Unlike cpu.idle, a cap costs bulk work throughput while the stream
plays, disk contended or not; the stream idle, bulk work has the whole disk
again io_yield_hold_seconds later. Protect's own io.max steps, and ADRG's io
rule, still act below the cap: the tighter limit wins.

Tier 2 keeps its disk (ADRG's media mode caps it while streams play).
"""

from __future__ import annotations

from services.governor.rule import Outcome, Rule, View
from services.governor.rules.protect import stall_of
from services.governor.rules.yielding import YieldState, next_state, protected_activity
from shared.messages import ContainerIntent, ContainerUsage, IoMax, Reason
from shared.units import MB_PER_SEC

NAME = "io_yield"


def io_rate(u: ContainerUsage) -> float | None:
    return u.io_bytes_per_second


def io_yield_rule(view: View, memory: YieldState) -> Outcome[YieldState]:
    cfg = view.cfg.protect
    usage = view.resources.containers if view.resources is not None else None
    active = cfg.active_io_mb_per_sec * MB_PER_SEC
    activity = protected_activity(view.matcher, usage, io_rate, active)
    stalled = stall_of(cfg, view.matcher, view.pressure, "io").state == "stalled"
    enabled = cfg.enabled and cfg.io_yield
    hold = cfg.io_yield_hold_seconds
    state, wake_at = next_state(enabled, hold, memory, activity, stalled, view.now)
    if not state.yielding:
        return Outcome(state, wake_at=wake_at)
    reason = Reason(
        rule=NAME,
        metric="protected.io_mb_per_sec",
        threshold=cfg.active_io_mb_per_sec,
        detail=f"or an io stall; ends {hold:g}s after",
    )
    bps = max(1, int(cfg.io_yield_mb_per_sec * MB_PER_SEC))
    cap = IoMax(read_bps=bps, write_bps=bps)
    asks = {c.name: ContainerIntent(tier=3, io_max=cap, reasons=[reason]) for c in view.tier(3)}
    return Outcome(state, containers=asks, wake_at=wake_at, readings={f"{NAME}.activity": activity})


RULE = Rule(NAME, YieldState, io_yield_rule)
