"""Memory pressure (ADRG's three stages): squeeze tier 3, then restart the biggest.

The stages share one memory slice because a restart resets what the squeeze learned: a
restarted container starts afresh, its memory.high ratcheting down from its new RSS.

Stage 1 squeezes tier 3's memory.high while some_avg10 is high. Each tier-3 container
gets memory.high = RSS x reduction_factor, floored at half of tier 3's memory_max, and
it only ever ratchets down while pressure lasts. Unlike ADRG, a squeeze never sets
memory.high above tier 3's own memory_high: squeezing must not loosen the baseline. When
some_avg10 is back at or below the threshold, every squeeze is released. Unknown
pressure changes nothing: it neither starts nor ends one.

Stages 2 and 3 restart the biggest bulk container. Stage 3 (emergency): memory
full_avg10 above emergency_full_avg10_threshold restarts the highest-RSS tier-3
container, or, when no tier-3 container is left to restart, the highest-RSS tier-2 one.
Stage 2 (critical), looked at only when stage 3 did not trigger: some_avg60 above
critical_avg60_threshold restarts the highest-RSS tier-3 container, never tier 2.

Two gates, both restart_cooldown_seconds: no restart at all within that long of the last
one (global), and no container twice within it (which the global gate already implies
while both share one cooldown). The times live in the rule's memory on the wall clock,
so a restarted governor still waits. Unknown pressure restarts nothing. Only running
containers with a known RSS are candidates: a paused one cannot be restarted by Docker,
and one of unknown size cannot be shown to be the biggest.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Annotated

from pydantic import Field

from services.governor.outcome import EventDraft, RestartDraft
from services.governor.rule import Outcome, Rule, View
from shared.config.model import MemoryPressure, NotifyEvent, Tier, WardenConfig
from shared.messages import (
    ContainerFact,
    ContainerIntent,
    HostThreshold,
    PressureFact,
    Reason,
    ReasonCard,
)
from shared.messages.base import Strict
from shared.messages.catalogue import Control
from shared.units import parse_size

# --- stage 1: the squeeze ------------------------------------------------------

# ADRG's floor when tier 3 has no memory_max.
DEFAULT_TIER3_MEMORY_MAX = parse_size("3G")
METRIC = "memory.some_avg10"


@dataclass(frozen=True)
class Squeeze:
    """Stage 1 of the memory_pressure rule."""

    floors: dict[str, int]  # container name -> memory.high to apply
    reason: Reason | None


def memory_squeeze(
    cfg: MemoryPressure,
    tier3: Tier,
    pressure: PressureFact | None,
    candidates: Iterable[ContainerFact],
    floors: dict[str, int],
) -> Squeeze:
    """candidates: the running, unprotected tier-3 containers."""
    if not cfg.enabled:
        return Squeeze({}, None)
    if pressure is None or pressure.memory is None:
        if not floors:
            return Squeeze({}, None)
        holding = Reason(rule="memory_squeeze", metric=METRIC, detail="pressure unknown: holding")
        return Squeeze(dict(floors), holding)
    value = pressure.memory.some.avg10
    threshold = cfg.some_avg10_threshold
    if value <= threshold:
        return Squeeze({}, None)

    reason = Reason(rule="memory_squeeze", metric=METRIC, value=value, threshold=threshold)
    floor = int((tier3.memory_max or DEFAULT_TIER3_MEMORY_MAX) * 0.5)
    ceiling = tier3.memory_high
    squeezed: dict[str, int] = {}
    for container in candidates:
        previous = floors.get(container.name)
        if not container.rss_bytes:
            if previous is not None:
                squeezed[container.name] = previous
            continue
        target = max(int(container.rss_bytes * cfg.memory_high_reduction_factor), floor)
        if ceiling is not None:
            target = min(target, ceiling)
        squeezed[container.name] = min(previous, target) if previous is not None else target
    return Squeeze(squeezed, reason)


# --- stages 2 and 3: restarts ---------------------------------------------------

MIB = 1024**2


@dataclass(frozen=True)
class RestartStep:
    """Stages 2 and 3 of the memory_pressure rule: at most one restart."""

    # Container name -> wall-clock time of its restart, for those within the cooldown.
    restarted_at: dict[str, float]
    restart: RestartDraft | None = None
    events: list[EventDraft] = field(default_factory=list)
    wake_at: float | None = None


def memory_restart(
    cfg: MemoryPressure,
    restarted_at: dict[str, float],
    pressure: PressureFact | None,
    tier3: Iterable[ContainerFact],
    tier2: Iterable[ContainerFact],
    now: float,
) -> RestartStep:
    """tier3, tier2: the live, unprotected containers of those tiers; pressure: fresh or None."""
    cooldown = cfg.restart_cooldown_seconds
    # Forget restarts no gate needs any more, so the retained state stays small.
    recent = {name: at for name, at in restarted_at.items() if now - at < cooldown}
    if not cfg.enabled or pressure is None or pressure.memory is None:
        return RestartStep(recent)

    full, some = pressure.memory.full, pressure.memory.some
    kind: NotifyEvent
    pools: tuple[list[ContainerFact], ...]
    if full is not None and full.avg10 > cfg.emergency_full_avg10_threshold:
        kind, metric, value = "memory_emergency_restart", "memory.full_avg10", full.avg10
        threshold, pools = cfg.emergency_full_avg10_threshold, (list(tier3), list(tier2))
    elif some.avg60 > cfg.critical_avg60_threshold:
        kind, metric, value = "memory_critical_restart", "memory.some_avg60", some.avg60
        threshold, pools = cfg.critical_avg60_threshold, (list(tier3),)
    else:
        return RestartStep(recent)

    if recent:
        # Ask again the moment the global gate opens, in case the pressure lasts.
        return RestartStep(recent, wake_at=max(recent.values()) + cooldown)

    for tier, pool in zip((3, 2), pools, strict=False):
        eligible = [c for c in pool if c.state == "running" and c.rss_bytes]
        if not eligible:
            continue
        chosen = max(eligible, key=lambda c: (c.rss_bytes or 0, c.name))
        reason = Reason(rule=kind, metric=metric, value=value, threshold=threshold)
        escalated = " (no Tier 3 container left to restart)" if tier == 2 else ""
        stage = "emergency" if kind == "memory_emergency_restart" else "critical"
        rss_mib = (chosen.rss_bytes or 0) // MIB
        event = EventDraft(
            kind,
            f"Memory {stage}: {metric}={value} > {threshold:g} — restarting "
            f"{chosen.name} (Tier {tier}, {rss_mib} MiB RSS){escalated}",
            "critical" if stage == "emergency" else "warning",
            {
                "container": chosen.name,
                "tier": tier,
                "rss_bytes": chosen.rss_bytes,
                "metric": metric,
                "value": value,
                "threshold": threshold,
            },
        )
        remembered = {**recent, chosen.name: now}
        return RestartStep(remembered, RestartDraft(chosen.name, reason), [event], now + cooldown)
    return RestartStep(recent)


# --- the rule -------------------------------------------------------------------


class MemoryPressureMemory(Strict):
    # Lowest memory.high applied per container while squeezing (ADRG only ratchets down).
    squeeze_floor: dict[str, Annotated[int, Field(gt=0)]] = {}
    # Container name -> wall-clock time of the last restart asked for (within the cooldown).
    restarted_at: dict[str, float] = {}


def memory_pressure(view: View, memory: MemoryPressureMemory) -> Outcome[MemoryPressureMemory]:
    cfg = view.cfg.memory_pressure
    tier3 = view.tier(3)
    squeeze = memory_squeeze(cfg, view.cfg.tier(3), view.pressure, tier3, memory.squeeze_floor)
    step = memory_restart(cfg, memory.restarted_at, view.pressure, tier3, view.tier(2), view.now)
    floors = squeeze.floors
    if step.restart is not None:
        floors = {n: f for n, f in floors.items() if n != step.restart.container}
    intents = {}
    if squeeze.reason is not None:
        intents = {
            name: ContainerIntent(tier=3, memory_high=floor, reasons=[squeeze.reason])
            for name, floor in squeeze.floors.items()
        }
    return Outcome(
        MemoryPressureMemory(squeeze_floor=floors, restarted_at=step.restarted_at),
        containers=intents,
        events=step.events,
        actions=[step.restart] if step.restart else [],
        wake_at=step.wake_at,
    )


def cards(cfg: WardenConfig) -> list[ReasonCard]:
    mp = cfg.memory_pressure
    restart: list[Control] = ["restart"]
    cooldown = f"at most one restart per {mp.restart_cooldown_seconds:g} s"
    return [
        ReasonCard(
            reason="memory_squeeze",
            rule="memory_pressure",
            title="the host is short of memory: tier 3's memory.high squeezed",
            adrg_name="memory_pressure",
            controls={"3": ["memory_high"]},
            thresholds=[
                HostThreshold(
                    metric=METRIC,
                    above=mp.some_avg10_threshold,
                    effect="squeeze tier 3 memory.high",
                )
            ],
            ends=f"when {METRIC} is back at or below {mp.some_avg10_threshold:g}",
            enabled=mp.enabled,
        ),
        ReasonCard(
            reason="memory_critical_restart",
            rule="memory_pressure",
            title="memory critical: the biggest tier-3 container restarted",
            controls={"3": restart},
            thresholds=[
                HostThreshold(
                    metric="memory.some_avg60",
                    above=mp.critical_avg60_threshold,
                    effect="restart a tier 3 container",
                )
            ],
            ends=cooldown,
            enabled=mp.enabled,
        ),
        ReasonCard(
            reason="memory_emergency_restart",
            rule="memory_pressure",
            title="memory emergency: the biggest bulk container restarted",
            controls={"2": restart, "3": restart},
            thresholds=[
                HostThreshold(
                    metric="memory.full_avg10",
                    above=mp.emergency_full_avg10_threshold,
                    effect="emergency restart",
                )
            ],
            ends=cooldown,
            enabled=mp.enabled,
        ),
    ]


RULE = Rule("memory_pressure", MemoryPressureMemory, memory_pressure, cards)
