"""I/O pressure (ADRG rule 3), table-driven on a fake clock."""

from __future__ import annotations

from typing import Any

import pytest

from services.governor.rule import Outcome
from services.governor.rules.io_pressure import RULE, IoMemory, io_pressure
from shared.config.model import IoPressure, WardenConfig
from shared.messages import IoMax, PressureFact, PressureLine, Reason, ResourcePressure
from tests.support.views import first_reason, steps, view

MIB = 1024**2
CFG = IoPressure()  # above 60 throttles; below 20 held 30 s releases
Steps = list[tuple[float, float | None]]


def fact(avg10: float | None) -> PressureFact | None:
    if avg10 is None:
        return None
    line = PressureLine(avg10=avg10, avg60=0, avg300=0, total=1)
    return PressureFact(host="h", io=ResourcePressure(some=line))


def config(cfg: IoPressure) -> WardenConfig:
    return WardenConfig(host_id="h", io_pressure=cfg)


def run(readings: Steps, cfg: IoPressure = CFG) -> list[Outcome[Any]]:
    return steps(RULE, [view(config(cfg), now, pressure=fact(a)) for now, a in readings])


def limit(out: Outcome[Any]) -> IoMax | None:
    """Tier 3's io.max; tier 2 is never capped by this rule."""
    assert "arr" not in out.containers
    return out.containers["bulk"].io_max if "bulk" in out.containers else None


def reason(out: Outcome[Any]) -> Reason | None:
    return first_reason(out, "bulk")


def throttled(readings: Steps, cfg: IoPressure = CFG) -> list[bool]:
    return [limit(o) is not None for o in run(readings, cfg)]


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        ([(0, 60.0)], [False]),  # at the trigger: not above it
        ([(0, 60.01)], [True]),
        ([(0, 10)], [False]),
        # Between the thresholds the cap stays on, however long.
        ([(0, 61), (1, 59), (500, 21)], [True, True, True]),
        # Exactly the recovery threshold is not below it: no hold starts.
        ([(0, 61), (1, 20.0), (100, 20.0)], [True, True, True]),
        # Released only after 30 s below 20.
        ([(0, 61), (1, 19.9), (30, 5), (31, 5)], [True, True, True, False]),
        # A reading between the thresholds starts the hold again.
        ([(0, 61), (1, 10), (20, 25), (21, 10), (50, 10), (51, 10)],
         [True, True, True, True, True, False]),
        # No flapping at the trigger edge.
        ([(0, 61), (1, 59.9), (2, 60.1), (3, 59.9)], [True, True, True, True]),
        # Unknown never throttles ...
        ([(0, None), (100, None)], [False, False]),
        # ... never releases, and a hold in progress starts again after it.
        ([(0, 61), (1, 10), (20, None), (40, None), (41, 10), (70, 10), (71, 10)],
         [True, True, True, True, True, True, False]),
        # Calm without a cap: nothing to recover from, no hold.
        ([(0, 5), (100, 5)], [False, False]),
        # Up again after a release.
        ([(0, 61), (1, 5), (31, 5), (32, 70)], [True, True, False, True]),
    ],
)  # fmt: skip
def test_throttle(steps: Steps, expected: list[bool]) -> None:
    assert throttled(steps) == expected


def test_limit_is_tier3s_config_in_mib_per_second() -> None:
    (out,) = run([(0, 80)])
    cap = limit(out)
    assert cap is not None and (cap.read_bps, cap.write_bps) == (5 * MIB, 2 * MIB)
    assert str(reason(out)) == "io_pressure(io.some_avg10=80.0 > 60.0)"
    assert out.status == {"io_throttled": True}


def test_reasons_while_held_and_unknown_stay_the_same() -> None:
    out = run([(0, 80), (1, 40), (2, 10), (3, 15), (4, None)])
    assert reason(out[1]) == reason(out[2]) == reason(out[3])
    assert str(reason(out[1])) == "io_pressure(io.some_avg10 > 60, lifted after 30s below 20)"
    # Above the threshold it is the same reason, but for the live value.
    live = reason(out[0])
    assert live is not None and live.model_copy(update={"value": None}) == reason(out[1])
    assert "unknown" in str(reason(out[4]))
    # The hold's progress is a reading, not a reason.
    assert out[1].readings == {"io_pressure.hold": "io.some_avg10=40.0: not below 20 yet"}
    assert out[3].readings == {"io_pressure.hold": "io.some_avg10=15.0: 1s of 30s below 20"}


def test_wake_at_is_the_end_of_the_hold() -> None:
    out = run([(0, 80), (10, 5), (25, 5), (40, 5)])
    assert [o.wake_at for o in out] == [None, 40, 40, None]


def test_a_fact_without_an_io_line_is_unknown() -> None:
    memory = IoMemory(throttled=True)
    out = io_pressure(view(config(CFG), pressure=PressureFact(host="h", io=None)), memory)
    assert limit(out) is not None and out.memory.recovery_since is None


def test_zero_hold_releases_on_the_first_calm_reading() -> None:
    assert throttled([(0, 90), (1, 1)], IoPressure(recovery_hold_seconds=0)) == [True, False]


def test_disabled_releases() -> None:
    off = config(IoPressure(enabled=False))
    out = io_pressure(view(off, pressure=fact(99)), IoMemory(throttled=True))
    assert limit(out) is None and out.memory.throttled is False
