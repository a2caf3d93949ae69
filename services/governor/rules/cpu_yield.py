"""CPU yield (part of Warden's protect, beside ADRG's rules): bulk work gives way on the CPU
while protected work runs.

A cpu hog hurts a stream without stalling it much by PSI's count: each of the
stream's wake-ups waits a few milliseconds for a core the hog holds, which the
tiers' CPU weights shorten but do not remove, and its stall share stays under
any threshold that would not also fire on noise. The idle scheduling class
(cgroup cpu.idle) removes the wait: the moment a normal task wakes, it takes the
core. It costs bulk work nothing while nothing else wants the CPU, so it needs
no stall to start: while any protected container (tier 0, tier 1,
protected_containers) is active, using at least protect.active_core_percent of
one core, or stalls on cpu, every tier-3 container runs idle-class. It ends
cpu_yield_hold_seconds after the last protected activity.

Tier 2 keeps its weight: idle-class groups share the leftover CPU between them
equally, which would take tier 2's precedence over tier 3 away.

Unknown never starts and never ends it: no fresh resources fact, or protected
containers whose CPU use is not known yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from services.governor.rule import Outcome, Rule, View
from services.governor.rules.protect import stall_of
from shared.config.model import Protect
from shared.messages import ContainerIntent, ContainerUsage, Reason
from shared.messages.base import Strict
from shared.tiers import TierMatcher

NAME = "cpu_yield"


class CpuYieldState(Strict):
    """The rule's memory slice: whether tier 3 yields, and since when nothing protected ran."""

    yielding: bool = False
    # Wall-clock time of the first calm reading since protected work last ran; None while
    # it runs. Only edges change it, so the memory is not re-published every reading.
    quiet_since: float | None = None


def protected_activity(
    cfg: Protect, matcher: TierMatcher, usage: Sequence[ContainerUsage] | None, cpu_count: int
) -> Literal["active", "quiet", "unknown"]:
    if usage is None:
        return "unknown"
    watched = [u for u in usage if matcher.watched(u.name)]
    if any(
        u.cpu_percent is not None and u.cpu_percent * cpu_count >= cfg.active_core_percent
        for u in watched
    ):
        return "active"
    return "unknown" if any(u.cpu_percent is None for u in watched) else "quiet"


def next_state(
    cfg: Protect,
    state: CpuYieldState,
    activity: Literal["active", "quiet", "unknown"],
    stalled: bool,
    now: float,
) -> tuple[CpuYieldState, float | None]:
    """The next state, and when it ends by itself."""
    if not (cfg.enabled and cfg.cpu_yield):
        return CpuYieldState(), None
    if activity == "active" or stalled:
        return CpuYieldState(yielding=True), None
    if not state.yielding or activity == "unknown":
        return state, None
    since = state.quiet_since if state.quiet_since is not None else now
    hold = cfg.cpu_yield_hold_seconds
    if now - since >= hold:
        return CpuYieldState(), None
    return CpuYieldState(yielding=True, quiet_since=since), since + hold


def cpu_yield_rule(view: View, memory: CpuYieldState) -> Outcome[CpuYieldState]:
    cfg = view.cfg.protect
    usage = view.resources.containers if view.resources is not None else None
    activity = protected_activity(cfg, view.matcher, usage, view.cpu_count)
    stalled = stall_of(cfg, view.matcher, view.pressure, "cpu").state == "stalled"
    state, wake_at = next_state(cfg, memory, activity, stalled, view.now)
    if not state.yielding:
        return Outcome(state, wake_at=wake_at)
    reason = Reason(
        rule=NAME,
        metric="protected.cpu_core_percent",
        threshold=cfg.active_core_percent,
        detail=f"or a cpu stall; ends {cfg.cpu_yield_hold_seconds:g}s after",
    )
    asks = {c.name: ContainerIntent(tier=3, cpu_idle=True, reasons=[reason]) for c in view.tier(3)}
    return Outcome(state, containers=asks, wake_at=wake_at, readings={f"{NAME}.activity": activity})


RULE = Rule(NAME, CpuYieldState, cpu_yield_rule)
