"""Memory squeeze (ADRG memory stage 1), table-driven."""

from __future__ import annotations

import pytest

from services.governor.rules.memory_pressure import memory_squeeze
from shared.config.model import MemoryPressure, Tier
from shared.messages import ContainerFact, PressureFact
from tests.support.views import pressure

MIB = 1024**2
GIB = 1024**3
CFG = MemoryPressure()  # threshold 50, factor 0.75
TIER3 = Tier.model_validate({"memory_high": "2G", "memory_max": "3G"})  # floor 1.5G


def reading(some_avg10: float | None) -> PressureFact | None:
    return None if some_avg10 is None else pressure(some_avg10, full10=some_avg10)


def fact(name: str, rss: int | None) -> ContainerFact:
    return ContainerFact(id=name * 4, name=name, state="running", tier=3, rss_bytes=rss)


@pytest.mark.parametrize(
    ("psi", "rss", "floors", "expected"),
    [
        (50.0, 4 * GIB, {}, {}),  # at the threshold: not above it
        (50.01, 2.5 * GIB, {}, {"a": int(1.875 * GIB)}),  # RSS x 0.75
        (50.01, 4 * GIB, {}, {"a": 2 * GIB}),  # never above tier 3's own memory_high
        (80, 2 * GIB, {}, {"a": int(1.5 * GIB)}),  # 1.5G would be below... equals the floor
        (80, 1 * GIB, {}, {"a": int(1.5 * GIB)}),  # floored at half of memory_max
        (80, 2.6 * GIB, {"a": int(1.8 * GIB)}, {"a": int(1.8 * GIB)}),  # only ratchets down
        (80, 2.2 * GIB, {"a": int(1.8 * GIB)}, {"a": int(1.65 * GIB)}),  # down as RSS falls
        (80, None, {"a": 2 * GIB}, {"a": 2 * GIB}),  # RSS unknown: keep what was set
        (80, None, {}, {}),  # RSS unknown and nothing set: nothing to squeeze to
        (20, 4 * GIB, {"a": 2 * GIB}, {}),  # pressure gone: released
        (None, 4 * GIB, {"a": 2 * GIB}, {"a": 2 * GIB}),  # pressure unknown: no change
        (None, 4 * GIB, {}, {}),
    ],
)
def test_squeeze(
    psi: float | None, rss: float | None, floors: dict[str, int], expected: dict[str, int]
) -> None:
    rss_bytes = int(rss) if rss is not None else None
    out = memory_squeeze(CFG, TIER3, reading(psi), [fact("a", rss_bytes)], floors)
    assert out.floors == expected
    if expected:
        assert out.reason is not None and out.reason.rule == "memory_squeeze"
    if expected and psi is not None:
        assert out.reason is not None
        assert (out.reason.metric, out.reason.value, out.reason.threshold) == (
            "memory.some_avg10",
            psi,
            50,
        )


def test_default_floor_without_tier3_memory_max() -> None:
    out = memory_squeeze(CFG, Tier(), pressure(90), [fact("a", 100 * MIB)], {})
    assert out.floors == {"a": int(1.5 * GIB)}  # ADRG assumes 3G


def test_disabled_rule_squeezes_nothing() -> None:
    out = memory_squeeze(
        MemoryPressure(enabled=False), TIER3, pressure(99), [fact("a", 8 * GIB)], {}
    )
    assert out.floors == {} and out.reason is None


def test_missing_memory_line_is_unknown() -> None:
    fact_without_memory = PressureFact(host="h", memory=None)
    out = memory_squeeze(CFG, TIER3, fact_without_memory, [fact("a", 8 * GIB)], {"a": 2 * GIB})
    assert out.floors == {"a": 2 * GIB}
