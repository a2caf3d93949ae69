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

from typing import Annotated

from pydantic import Field

from services.governor.hold import hold_reading
from services.governor.outcome import EventDraft, LogNote
from services.governor.rule import Outcome, Rule, View
from shared.config.model import Thermal, WardenConfig
from shared.messages import ContainerIntent, HostThreshold, Reason, ReasonCard
from shared.messages.base import Strict

METRIC = "temperature_c"


class ThermalMemory(Strict):
    # 0-2; it only goes down after a hold below recovery_temp_c.
    stage: Annotated[int, Field(ge=0, le=2)] = 0
    # Wall-clock start of the hold below recovery_temp_c, if one is running.
    recovery_since: float | None = None
    # The warn band was entered and announced; cleared once below warn_temp_c.
    warned: bool = False


def thermal(view: View, memory: ThermalMemory) -> Outcome[ThermalMemory]:
    """Reads the hottest selected sensor, fresh; unknown when there is none."""
    cfg = view.cfg.thermal
    heat = view.thermal
    celsius = heat.max_celsius if heat is not None and heat.available else None
    memory, events, notes, wake_at = _step(cfg, memory, celsius, view.now)
    intents: dict[str, ContainerIntent] = {}
    if memory.stage >= 1:
        stage1 = _reason(cfg, "thermal_stage1", cfg.stage1_temp_c, celsius)
        for c in view.tier(3):
            intents[c.name] = ContainerIntent(tier=3, paused=True, reasons=[stage1])
    if memory.stage >= 2:
        stage2 = _reason(cfg, "thermal_stage2", cfg.stage2_temp_c, celsius)
        for c in view.tier(2):
            intents[c.name] = ContainerIntent(tier=2, paused=True, reasons=[stage2])
    readings = {}
    if memory.stage >= 1 and celsius is not None:
        readings["thermal.hold"] = hold_reading(
            METRIC,
            celsius,
            memory.recovery_since,
            view.now,
            cfg.recovery_hold_seconds,
            f"{cfg.recovery_temp_c:g}°C",
        )
    return Outcome(
        memory,
        containers=intents,
        events=events,
        notes=notes,
        wake_at=wake_at,
        readings=readings,
        status={"thermal_stage": memory.stage},
    )


def _step(
    cfg: Thermal, memory: ThermalMemory, celsius: float | None, now: float
) -> tuple[ThermalMemory, list[EventDraft], list[LogNote], float | None]:
    if not cfg.enabled:
        return ThermalMemory(), [], [], None

    stage, since, warned = memory.stage, memory.recovery_since, False
    notes: list[LogNote] = []
    warning: EventDraft | None = None
    wake_at = None
    if celsius is None:
        since, warned = None, memory.warned
    elif celsius >= cfg.stage2_temp_c:
        stage, since = 2, None
    elif celsius >= cfg.stage1_temp_c:
        stage, since = max(stage, 1), None
    elif celsius >= cfg.warn_temp_c:
        since = None
        if not memory.warned:
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

    events = _entered(cfg, memory.stage, stage, celsius) + ([warning] if warning else [])
    updated = ThermalMemory(stage=stage, recovery_since=since, warned=warned)
    return updated, events, notes, wake_at


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
    # Without its live value this is the same reason above the threshold and in the hold, so a
    # temperature crossing it back and forth re-publishes nothing.
    return Reason(
        rule=rule,
        metric=METRIC,
        value=celsius if celsius >= threshold else None,
        threshold=threshold,
        detail=f"ends after {cfg.recovery_hold_seconds:g}s below {cfg.recovery_temp_c:g}°C",
    )


def cards(cfg: WardenConfig) -> list[ReasonCard]:
    t = cfg.thermal
    ends = f"after {t.recovery_hold_seconds:g} s below {t.recovery_temp_c:g}°C"
    return [
        ReasonCard(
            reason="thermal_stage1",
            rule="thermal",
            title="the host runs hot: tier 3 paused",
            controls={"3": ["paused"]},
            thresholds=[
                HostThreshold(metric=METRIC, above=t.warn_temp_c, effect="warning", acts=False),
                HostThreshold(metric=METRIC, above=t.stage1_temp_c, effect="pause tier 3"),
            ],
            ends=ends,
            enabled=t.enabled,
        ),
        ReasonCard(
            reason="thermal_stage2",
            rule="thermal",
            title="the host runs very hot: tiers 2 and 3 paused",
            controls={"2": ["paused"], "3": ["paused"]},
            thresholds=[
                HostThreshold(metric=METRIC, above=t.stage2_temp_c, effect="pause tiers 2 and 3")
            ],
            ends=ends,
            enabled=t.enabled,
        ),
    ]


RULE = Rule("thermal", ThermalMemory, thermal, cards)
