"""Memory pressure stages 2 and 3 (ADRG): restart the biggest bulk container.

Stage 3 (emergency): memory full_avg10 above emergency_full_avg10_threshold
restarts the highest-RSS tier-3 container, or, when no tier-3 container is
left to restart, the highest-RSS tier-2 one. Stage 2 (critical), looked at
only when stage 3 did not trigger: some_avg60 above critical_avg60_threshold
restarts the highest-RSS tier-3 container, never tier 2.

Two gates, both restart_cooldown_seconds: no restart at all within that long
of the last one (global), and no container twice within it (which the global
gate already implies while both share one cooldown). The times live
in the rule's memory on the wall clock, so a restarted governor still waits.
Unknown pressure restarts nothing. Only running containers with a known RSS
are candidates: a paused one cannot be restarted by Docker, and one of
unknown size cannot be shown to be the biggest.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from services.governor.outcome import EventDraft, RestartDraft
from shared.config.model import MemoryPressure, NotifyEvent
from shared.messages import ContainerFact, PressureFact, Reason

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
