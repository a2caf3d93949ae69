"""Thermal protection (ADRG rule 1): two stages by the hottest sensor, hysteresis on recovery.

At or above stage2_temp_c: stage 2 (tiers 2 and 3 paused); at or above
stage1_temp_c: stage 1 (tier 3 paused). Unlike ADRG, a reading never lowers a
stage: only a hold below recovery_temp_c for recovery_hold_seconds does, and
then straight to 0, so a temperature wobbling around stage2_temp_c cannot
flap tier 2. Any known reading at or above recovery_temp_c starts that hold
again. The warn band is an event (thermal_warning), once per visit. An unknown temperature (no
sensor, or a stale reading) neither raises nor lowers a stage, and a hold in
progress starts again: only time known to be cool counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from services.governor.outcome import EventDraft, LogNote
from shared.config.model import Thermal
from shared.messages import GovernorMemory, Reason

METRIC = "temperature_c"


@dataclass(frozen=True)
class ThermalOutcome:
    memory: GovernorMemory
    tier3: Reason | None = None  # set while tier 3 must be paused (stage >= 1)
    tier2: Reason | None = None  # set while tier 2 must be paused too (stage 2)
    events: list[EventDraft] = field(default_factory=list)
    notes: list[LogNote] = field(default_factory=list)
    wake_at: float | None = None


def thermal(
    cfg: Thermal, memory: GovernorMemory, celsius: float | None, now: float
) -> ThermalOutcome:
    """celsius: the hottest selected sensor, fresh; None when unknown."""
    if not cfg.enabled:
        cleared = memory.model_copy(
            update={"thermal_stage": 0, "thermal_recovery_since": None, "thermal_warned": False}
        )
        return ThermalOutcome(cleared)

    stage, since, warned = memory.thermal_stage, memory.thermal_recovery_since, False
    notes: list[LogNote] = []
    warning: EventDraft | None = None
    wake_at = None
    if celsius is None:
        since, warned = None, memory.thermal_warned
    elif celsius >= cfg.stage2_temp_c:
        stage, since = 2, None
    elif celsius >= cfg.stage1_temp_c:
        stage, since = max(stage, 1), None
    elif celsius >= cfg.warn_temp_c:
        since = None
        if not memory.thermal_warned:
            warning = EventDraft(
                "thermal_warning",
                f"Temperature {celsius:.1f}°C, above the {cfg.warn_temp_c:g}°C warning level",
                "warning",
                {"temperature_c": celsius, "warn_temp_c": cfg.warn_temp_c, "stage": stage},
            )
    elif celsius < cfg.recovery_temp_c:
        if stage > 0:
            since = now if since is None else since
            if now - since >= cfg.recovery_hold_seconds:
                notes.append(
                    LogNote(
                        "thermal.recovered",
                        "info",
                        {"temperature_c": celsius, "stage_was": stage, "held_seconds": now - since},
                    )
                )
                stage, since = 0, None
            else:
                wake_at = since + cfg.recovery_hold_seconds
    else:
        since = None  # between recovery and warn: not cool enough to count
    if celsius is not None:
        warned = celsius >= cfg.warn_temp_c

    events = _entered(cfg, memory.thermal_stage, stage, celsius) + ([warning] if warning else [])
    updated = memory.model_copy(
        update={"thermal_stage": stage, "thermal_recovery_since": since, "thermal_warned": warned}
    )
    return ThermalOutcome(
        updated,
        tier3=_reason(cfg, "thermal_stage1", cfg.stage1_temp_c, celsius) if stage >= 1 else None,
        tier2=_reason(cfg, "thermal_stage2", cfg.stage2_temp_c, celsius) if stage >= 2 else None,
        events=events,
        notes=notes,
        wake_at=wake_at,
    )


def _entered(cfg: Thermal, before: int, after: int, celsius: float | None) -> list[EventDraft]:
    if after <= before or celsius is None:
        return []
    if after == 2:
        return [
            EventDraft(
                "thermal_stage2",
                f"{celsius:.1f}°C ≥ {cfg.stage2_temp_c:g}°C — pausing Tier 2 and Tier 3",
                "critical",
                {"temperature_c": celsius, "threshold_c": cfg.stage2_temp_c},
            )
        ]
    return [
        EventDraft(
            "thermal_stage1",
            f"{celsius:.1f}°C ≥ {cfg.stage1_temp_c:g}°C — pausing Tier 3",
            "warning",
            {"temperature_c": celsius, "threshold_c": cfg.stage1_temp_c},
        )
    ]


def _reason(cfg: Thermal, rule: str, threshold: float, celsius: float | None) -> Reason:
    if celsius is None:
        return Reason(rule=rule, detail="temperature unknown: holding")
    if celsius >= threshold:
        return Reason(rule=rule, metric=METRIC, value=celsius, threshold=threshold)
    # The detail stays the same while held, so a cooling reading does not re-publish the state.
    return Reason(
        rule=rule,
        detail=f"held until below {cfg.recovery_temp_c:g}°C for {cfg.recovery_hold_seconds:g}s",
    )
