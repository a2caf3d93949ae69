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

from services.governor.yielding import YieldSpec, yield_rule
from shared.messages import ContainerIntent, ContainerUsage

NAME = "cpu_yield"


def core_percent(u: ContainerUsage, cpu_count: int) -> float | None:
    """% of one core (the fact says % of the whole machine)."""
    return None if u.cpu_percent is None else u.cpu_percent * cpu_count


SPEC = YieldSpec(
    name=NAME,
    resource="cpu",
    metric="cpu_core_percent",
    use=core_percent,
    threshold=lambda cfg: cfg.active_core_percent,
    enabled=lambda cfg: cfg.cpu_yield,
    hold_seconds=lambda cfg: cfg.cpu_yield_hold_seconds,
    ask=lambda _cfg, reason, _disks: ContainerIntent(tier=3, cpu_idle=True, reasons=[reason]),
    title="protected work uses the CPU: tier 3 runs only on what it leaves (cpu.idle)",
    controls=["cpu_idle"],
)
RULE = yield_rule(SPEC)
