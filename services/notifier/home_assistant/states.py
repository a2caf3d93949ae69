"""What Home Assistant is told that no template over Warden's own topics can work out. Pure.

- paused and throttled container counts, from what the actuator applied;
- the thermal stage, from the governor's events and its desired state;
- one trigger topic per event kind, so each device trigger fires on its own event.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from pydantic import BaseModel, ConfigDict

from services.notifier.home_assistant.entities import DEVICE_TRIGGERS
from shared.messages import Applied, DesiredState, Event, ThermalFact

_STAGE_OF_EVENT = {"thermal_stage1": 1, "thermal_stage2": 2}


class HaState(BaseModel):
    """The payload of <root>/<host>/ha/state (retained). None: unknown."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    paused: int | None = None
    throttled: int | None = None
    thermal_stage: int | None = None


@dataclass(frozen=True)
class View:
    paused: int | None = None
    throttled: int | None = None
    # Latest stage an event announced; None: none announced since we started.
    announced_stage: int | None = None
    # Whether the governor's desired state holds anything back for heat.
    thermal_hold: bool | None = None
    # Whether "no stage" is known: a temperature was read, or a stage was seen to end.
    thermal_known: bool = False

    def state(self) -> HaState:
        return HaState(paused=self.paused, throttled=self.throttled, thermal_stage=self.stage())

    def stage(self) -> int | None:
        if self.thermal_hold:
            return self.announced_stage or 1
        if self.announced_stage is not None:
            return self.announced_stage  # announced; its desired state is on its way
        return 0 if self.thermal_known else None


def on_applied(view: View, applied: Applied) -> View:
    paused = sum(1 for c in applied.containers if c.paused)
    throttled = sum(1 for c in applied.containers if not c.paused and (c.cpu_max or c.io_max))
    return replace(view, paused=paused, throttled=throttled)


def on_desired(view: View, desired: DesiredState) -> View:
    hold = any(
        reason.rule.startswith("thermal")
        for intent in desired.containers.values()
        for reason in intent.reasons
    )
    # A stage ends when the governor stops holding anything back for heat.
    ended = not hold and (view.thermal_hold or view.announced_stage is not None)
    return replace(
        view,
        thermal_hold=hold,
        announced_stage=view.announced_stage if hold else None,
        thermal_known=view.thermal_known or hold or ended,
    )


def on_thermal(view: View, fact: ThermalFact) -> View:
    return replace(view, thermal_known=view.thermal_known or fact.available)


def on_event(view: View, event: Event) -> View:
    stage = _STAGE_OF_EVENT.get(event.kind)
    if stage is None:
        return view
    return replace(view, announced_stage=max(stage, view.announced_stage or 0))


def fires_device_trigger(event: Event) -> bool:
    """Whether ha/event/<kind> is a device trigger's topic for this event: an incident's
    only when it opens (it is told again when it closes)."""
    if event.kind == "incident":
        return event.details.get("phase") == "opened"
    return event.kind in DEVICE_TRIGGERS
