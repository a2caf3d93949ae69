"""Thermal protection (ADRG rule 1), table-driven on a fake clock."""

from __future__ import annotations

from typing import Any

import pytest

from services.governor.rule import Outcome
from services.governor.rules.thermal import RULE, ThermalMemory, thermal
from shared.config.model import Thermal, WardenConfig
from tests.support.views import first_reason, heat, reasons, steps, view

CFG = Thermal()  # warn 70, stage 1 at 75, stage 2 at 80, recovery below 65 held 30 s
Steps = list[tuple[float, float | None]]


def run(readings: Steps, cfg: Thermal = CFG) -> list[Outcome[Any]]:
    config = WardenConfig(host_id="h", thermal=cfg)
    return steps(RULE, [view(config, now, thermal=heat(c)) for now, c in readings])


def stages(readings: Steps, cfg: Thermal = CFG) -> list[int]:
    return [o.memory.stage for o in run(readings, cfg)]


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        ([(0, 74.99)], [0]),  # warn band: a log line, no stage
        ([(0, 75.0)], [1]),  # stage 1 at the threshold itself
        ([(0, 79.99)], [1]),
        ([(0, 80.0)], [2]),  # stage 2 at the threshold itself
        ([(0, 75), (1, 80)], [1, 2]),
        # A reading never lowers a stage: only the hold below recovery does.
        ([(0, 81), (5, 77), (10, 70), (15, 66)], [2, 2, 2, 2]),
        # Wobbling at the stage 2 edge does not flap tier 2.
        ([(0, 79.9), (1, 80), (2, 79.9), (3, 80.1), (4, 79.9)], [1, 2, 2, 2, 2]),
        # The hold: below 65 from t=1, back to 0 once 30 s have passed, straight from 2.
        ([(0, 81), (1, 64.9), (30, 64), (31, 60)], [2, 2, 2, 0]),
        # Exactly recovery_temp_c is not below it: no hold ever starts.
        ([(0, 76), (1, 65), (100, 65)], [1, 1, 1]),
        # A reading at or above recovery starts the hold again.
        ([(0, 76), (1, 60), (20, 66), (21, 60), (50, 60), (51, 60)], [1, 1, 1, 1, 1, 0]),
        ([(0, 76), (1, 60), (20, 72), (21, 60), (50, 60), (51, 60)], [1, 1, 1, 1, 1, 0]),
        # Unknown never raises a stage ...
        ([(0, None), (100, None)], [0, 0]),
        # ... never lowers one, and a hold in progress starts again after it.
        ([(0, 81), (1, 60), (20, None), (40, None), (41, 60), (70, 60), (71, 60)],
         [2, 2, 2, 2, 2, 2, 0]),
        # Cool with no stage: nothing to recover from.
        ([(0, 40), (100, 40)], [0, 0]),
        # Back up after a recovery: a new stage.
        ([(0, 76), (1, 60), (31, 60), (32, 77)], [1, 1, 0, 1]),
    ],
)  # fmt: skip
def test_stages(steps: Steps, expected: list[int]) -> None:
    assert stages(steps) == expected


def test_a_zero_hold_recovers_on_the_first_cool_reading() -> None:
    assert stages([(0, 90), (1, 64)], Thermal(recovery_hold_seconds=0)) == [2, 0]


def test_wake_at_is_the_end_of_the_hold() -> None:
    out = run([(0, 76), (10, 60), (25, 60), (40, 60)])
    assert [o.wake_at for o in out] == [None, 40, 40, None]
    assert out[1].memory.recovery_since == 10


def test_events_when_entering_a_stage_only() -> None:
    out = run([(0, 76), (1, 77), (2, 81), (3, 82), (4, 60), (34, 60), (35, 85)])
    kinds = [[e.kind for e in o.events] for o in out]
    assert kinds == [
        ["thermal_stage1"],
        [],
        ["thermal_stage2"],
        [],
        [],
        [],
        ["thermal_stage2"],  # 0 straight to 2: one event, stage 2's
    ]
    assert out[2].events[0].severity == "critical" and out[0].events[0].severity == "warning"


def test_reasons_pause_tier3_from_stage1_and_tier2_at_stage2() -> None:
    one, two, held, unknown = run([(0, 76), (1, 81), (2, 70), (3, None)])
    assert first_reason(one, "bulk") is not None and first_reason(one, "arr") is None
    assert str(first_reason(one, "bulk")) == "thermal_stage1(temperature_c=76.0 > 75.0)"
    assert str(first_reason(two, "arr")) == "thermal_stage2(temperature_c=81.0 > 80.0)"
    assert two.containers["arr"].paused and two.containers["bulk"].paused
    assert str(first_reason(held, "arr")) == (
        "thermal_stage2(temperature_c > 80, ends after 30s below 65°C)"
    )
    assert held.readings == {"thermal.hold": "temperature_c=70.0: not below 65°C yet"}
    assert "unknown" in str(first_reason(unknown, "bulk"))


def test_warn_band_is_an_event_once_per_visit() -> None:
    out = run([(0, 71), (1, 72), (2, 76), (3, 72), (4, 60), (5, 71)])
    warnings = [[e.kind for e in o.events if e.kind == "thermal_warning"] for o in out]
    assert warnings == [["thermal_warning"], [], [], [], [], ["thermal_warning"]]
    first = out[0].events[0]
    assert first.severity == "warning" and first.details["warn_temp_c"] == 70
    assert out[0].containers == {}  # a warning pauses nothing


def test_recovery_is_logged() -> None:
    out = run([(0, 76), (1, 60), (31, 60)])
    assert [n.event for n in out[2].notes] == ["thermal.recovered"]


def test_disabled_clears_any_stage() -> None:
    memory = ThermalMemory(stage=2, recovery_since=5)
    config = WardenConfig(host_id="h", thermal=Thermal(enabled=False))
    out = thermal(view(config, 10, thermal=heat(99)), memory)
    assert out.memory.stage == 0 and out.containers == {}


def test_a_temperature_hovering_at_a_threshold_keeps_one_reason() -> None:
    out = run([(0, 81), (1, 79), (2, 82), (3, 78), (4, 64), (5, 66)])
    stripped = {reasons(o, "arr")[0].model_copy(update={"value": None}) for o in out}
    assert len(stripped) == 1
