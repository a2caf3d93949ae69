"""ADRG's tier3_pause trigger: tier 3 stays paused until tier3_resume."""

from __future__ import annotations

from services.governor.rule import NoMemory, Outcome, Rule, View
from shared.config.model import WardenConfig
from shared.messages import ContainerIntent, Reason, ReasonCard

REASON = Reason(rule="manual_pause", detail="tier3_pause trigger")


def manual_pause(view: View, memory: NoMemory) -> Outcome[NoMemory]:
    if not view.switches.tier3_manual_pause:
        return Outcome(memory)
    paused = {c.name: ContainerIntent(tier=3, paused=True, reasons=[REASON]) for c in view.tier(3)}
    return Outcome(memory, containers=paused)


def cards(_cfg: WardenConfig) -> list[ReasonCard]:
    return [
        ReasonCard(
            reason=REASON.rule,
            rule="manual_pause",
            title="tier 3 paused by hand (tier3_pause)",
            adrg_name="webhook_manual",
            controls={"3": ["paused"]},
            ends="a tier3_resume trigger",
        )
    ]


RULE = Rule("manual_pause", NoMemory, manual_pause, cards)
