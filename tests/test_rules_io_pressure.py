"""I/O pressure (ADRG rule 3), table-driven on a fake clock."""

from __future__ import annotations

import pytest

from services.governor.rules.io_pressure import IoOutcome, io_pressure
from shared.config.model import IoPressure
from shared.messages import GovernorMemory, PressureFact, PressureLine, ResourcePressure

MIB = 1024**2
CFG = IoPressure()  # above 60 throttles; below 20 held 30 s releases
Steps = list[tuple[float, float | None]]


def fact(avg10: float | None) -> PressureFact | None:
    if avg10 is None:
        return None
    line = PressureLine(avg10=avg10, avg60=0, avg300=0, total=1)
    return PressureFact(host="h", io=ResourcePressure(some=line))


def run(steps: Steps, cfg: IoPressure = CFG) -> list[IoOutcome]:
    memory, outcomes = GovernorMemory(), []
    for now, avg10 in steps:
        out = io_pressure(cfg, memory, fact(avg10), now)
        outcomes.append(out)
        memory = out.memory
    return outcomes


def throttled(steps: Steps, cfg: IoPressure = CFG) -> list[bool]:
    return [o.limit is not None for o in run(steps, cfg)]


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
    assert out.limit is not None
    assert (out.limit.read_bps, out.limit.write_bps) == (5 * MIB, 2 * MIB)
    assert out.reason is not None and str(out.reason) == "io_pressure(io.some_avg10=80.0 > 60.0)"


def test_reasons_while_held_and_unknown_stay_the_same() -> None:
    out = run([(0, 80), (1, 40), (2, 10), (3, 15), (4, None)])
    assert out[1].reason == out[2].reason == out[3].reason
    assert out[1].reason is not None and "held until io.some_avg10 < 20 for 30s" in str(
        out[1].reason
    )
    assert out[4].reason is not None and "unknown" in str(out[4].reason)


def test_wake_at_is_the_end_of_the_hold() -> None:
    out = run([(0, 80), (10, 5), (25, 5), (40, 5)])
    assert [o.wake_at for o in out] == [None, 40, 40, None]


def test_a_fact_without_an_io_line_is_unknown() -> None:
    memory = GovernorMemory(io_throttled=True)
    out = io_pressure(CFG, memory, PressureFact(host="h", io=None), 0)
    assert out.limit is not None and out.memory.io_recovery_since is None


def test_zero_hold_releases_on_the_first_calm_reading() -> None:
    assert throttled([(0, 90), (1, 1)], IoPressure(recovery_hold_seconds=0)) == [True, False]


def test_disabled_releases() -> None:
    out = io_pressure(IoPressure(enabled=False), GovernorMemory(io_throttled=True), fact(99), 0)
    assert out.limit is None and out.memory.io_throttled is False
