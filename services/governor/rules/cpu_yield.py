"""CPU yield (part of Warden's protect, beside ADRG's rules): bulk work gives way on the CPU
while protected work runs.

A cpu hog hurts a stream without stalling it much by PSI's count: each of the
stream's wake-ups waits a few milliseconds for a core the hog holds, which the
tiers' CPU weights shorten but do not remove, and its stall share stays under
any threshold that would not also fire on noise. The idle scheduling class
(cgroup cpu.idle) removes the wait: the moment a normal task wakes, it takes the
core. It costs bulk work nothing while nothing else wants the CPU, so it needs
no stall to start: while any protected container is active, using at least
protect.active_core_percent of one core, or stalls on cpu, every tier-3
container runs idle-class (when it starts and ends: yielding.py). It ends
cpu_yield_hold_seconds after the last protected activity.

Tier 2 keeps its weight: idle-class groups share the leftover CPU between them
equally, which would take tier 2's precedence over tier 3 away.
"""

from __future__ import annotations

from services.governor.rule import Outcome, Rule, View
from services.governor.rules.protect import stall_of
from services.governor.rules.yielding import YieldState, next_state, protected_activity
from shared.messages import ContainerIntent, ContainerUsage, Reason

NAME = "cpu_yield"


def cpu_yield_rule(view: View, memory: YieldState) -> Outcome[YieldState]:
    cfg = view.cfg.protect
    usage = view.resources.containers if view.resources is not None else None
    cores = view.cpu_count

    def core_percent(u: ContainerUsage) -> float | None:
        return None if u.cpu_percent is None else u.cpu_percent * cores

    activity = protected_activity(view.matcher, usage, core_percent, cfg.active_core_percent)
    stalled = stall_of(cfg, view.matcher, view.pressure, "cpu").state == "stalled"
    enabled = cfg.enabled and cfg.cpu_yield
    hold = cfg.cpu_yield_hold_seconds
    state, wake_at = next_state(enabled, hold, memory, activity, stalled, view.now)
    if not state.yielding:
        return Outcome(state, wake_at=wake_at)
    reason = Reason(
        rule=NAME,
        metric="protected.cpu_core_percent",
        threshold=cfg.active_core_percent,
        detail=f"or a cpu stall; ends {hold:g}s after",
    )
    asks = {c.name: ContainerIntent(tier=3, cpu_idle=True, reasons=[reason]) for c in view.tier(3)}
    return Outcome(state, containers=asks, wake_at=wake_at, readings={f"{NAME}.activity": activity})


RULE = Rule(NAME, YieldState, cpu_yield_rule)
