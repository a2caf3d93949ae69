"""Timed overrides (from the web service): a reason with an expiry. Pure.

They end by themselves: an expired override changes nothing, and the decision
wakes the governor at the next expiry. Being retained on the bus, they
survive a restart of any process.
"""

from __future__ import annotations

import time
from dataclasses import replace

from services.governor.outcome import earliest
from services.governor.policy import Decision
from shared.messages import ContainerFact, ContainerIntent, Reason, ReasonCard
from shared.messages.overrides import Override

PAUSE_RULE = "timed_pause"
# What an unthrottle leaves in force: the thermal stages protect the hardware itself.
KEPT_BY_UNTHROTTLE = ("thermal_stage1", "thermal_stage2")


# What a timed pause is, for the catalogue (an unthrottle gives no reason: it lifts).
CARD = ReasonCard(
    reason=PAUSE_RULE,
    rule="overrides",
    title="tier 3 paused for a while, by hand",
    controls={"3": ["paused"]},
    ends="at the override's end, or when it is ended",
)


def _until(override: Override) -> str:
    return time.strftime("%H:%M:%SZ", time.gmtime(override.until))


def apply_overrides(
    decision: Decision,
    targets: list[tuple[ContainerFact, int]],
    overrides: list[Override],
    now: float,
) -> Decision:
    live = [o for o in overrides if o.since <= now < o.until]
    intents = dict(decision.containers)
    for override in live:
        if override.kind == "pause_tier3":
            reason = Reason(rule=PAUSE_RULE, detail=f"until {_until(override)}")
            for container, tier in targets:
                if tier != 3:
                    continue
                current = intents.get(container.name)
                if current is None:
                    intents[container.name] = ContainerIntent(tier=3, paused=True, reasons=[reason])
                elif reason not in current.reasons:
                    intents[container.name] = current.model_copy(
                        update={"paused": True, "reasons": [*current.reasons, reason]}
                    )
    for override in live:
        if override.kind == "unthrottle" and override.container in intents:
            current = intents[override.container]
            kept = [r for r in current.reasons if r.rule in KEPT_BY_UNTHROTTLE]
            if kept:
                intents[override.container] = ContainerIntent(
                    tier=current.tier, paused=True, reasons=kept
                )
            else:
                del intents[override.container]
    ends = [o.until for o in overrides if o.until > now]
    starts = [o.since for o in overrides if o.since > now]
    return replace(
        decision,
        containers=intents,
        wake_at=earliest(decision.wake_at, min(ends, default=None), min(starts, default=None)),
    )
