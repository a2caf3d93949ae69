"""What the notifier derives for Home Assistant where no template can: tables over bus messages."""

from __future__ import annotations

import pytest

from services.notifier.home_assistant import states
from shared.messages import (
    Applied,
    AppliedContainer,
    ContainerIntent,
    CpuMax,
    DesiredState,
    Event,
    IoMax,
    Reason,
    ThermalFact,
)
from shared.messages.events import NotifyEvent


def applied_container(
    name: str, paused: bool = False, cpu: bool = False, io: bool = False
) -> AppliedContainer:
    return AppliedContainer(
        name=name,
        id=name * 4,
        tier=3,
        paused=paused,
        cpu_weight=10,
        io_weight=10,
        memory_high=None,
        memory_max=None,
        cpu_max=CpuMax(quota_us=20_000) if cpu else None,
        io_max=IoMax(read_bps=1024) if io else None,
    )


@pytest.mark.parametrize(
    ("containers", "paused", "throttled"),
    [
        ([], 0, 0),
        ([applied_container("a", paused=True)], 1, 0),
        ([applied_container("a", cpu=True), applied_container("b", io=True)], 0, 2),
        # paused and capped counts once, as paused
        ([applied_container("a", paused=True, cpu=True), applied_container("b")], 1, 0),
    ],
)
def test_counts_from_what_was_applied(
    containers: list[AppliedContainer], paused: int, throttled: int
) -> None:
    view = states.on_applied(
        states.View(), Applied(host="h", mode="desired", containers=containers)
    )
    assert (view.state().paused, view.state().throttled) == (paused, throttled)


def test_counts_unknown_until_the_actuator_reports() -> None:
    assert states.View().state() == states.HaState(paused=None, throttled=None, thermal_stage=None)


def desired(*rules: str) -> DesiredState:
    return DesiredState(
        host="h",
        seq=1,
        lease_seconds=30,
        containers={
            f"c{i}": ContainerIntent(tier=3, paused=True, reasons=[Reason(rule=rule)])
            for i, rule in enumerate(rules)
        },
    )


def event(kind: NotifyEvent) -> Event:
    return Event(host="h", kind=kind, source="governor", message=kind)


THERMAL_OK = ThermalFact(host="h", available=True, max_celsius=50.0)
THERMAL_NONE = ThermalFact(host="h", available=False, reason="no sensors")


@pytest.mark.parametrize(
    ("steps", "stage"),
    [
        ([], None),  # nothing known: unknown, not "off"
        ([desired()], None),  # a desired state alone says nothing about heat
        ([THERMAL_NONE, desired()], None),  # no readable sensor: still unknown
        ([THERMAL_OK, desired()], 0),
        ([event("thermal_stage1")], 1),
        ([event("thermal_stage1"), desired("thermal_stage1")], 1),
        ([event("thermal_stage1"), event("thermal_stage2"), desired("thermal_stage2")], 2),
        ([desired("thermal")], 1),  # held for heat, stage not yet announced
        # the stage ends when nothing is held for heat any more
        ([event("thermal_stage2"), desired("thermal"), desired("media_mode")], 0),
        ([event("thermal_stage1"), desired("media_mode")], 0),
        ([event("media_mode_activated")], None),
    ],
)
def test_thermal_stage(steps: list[DesiredState | ThermalFact | Event], stage: int | None) -> None:
    view = states.View()
    for step in steps:
        if isinstance(step, DesiredState):
            view = states.on_desired(view, step)
        elif isinstance(step, ThermalFact):
            view = states.on_thermal(view, step)
        else:
            view = states.on_event(view, step)
    assert view.state().thermal_stage == stage


@pytest.mark.parametrize(
    ("kind", "fires"),
    [
        ("media_mode_activated", True),
        ("media_mode_deactivated", True),
        ("thermal_stage2", True),
        ("memory_emergency_restart", True),
        ("daemon_start", False),
        ("refusal", False),
    ],
)
def test_device_triggers(kind: NotifyEvent, fires: bool) -> None:
    assert states.fires_device_trigger(event(kind)) is fires


def test_an_incident_fires_its_trigger_when_it_opens_only() -> None:
    def told(phase: str) -> Event:
        return Event(
            host="h", kind="incident", source="governor", message="m", details={"phase": phase}
        )

    assert states.fires_device_trigger(told("opened"))
    assert not states.fires_device_trigger(told("closed"))
