"""Memory pressure stages 2 and 3 (ADRG): restarts, table-driven on a fake clock."""

from __future__ import annotations

import pytest

from services.governor.rules.memory_pressure import memory_restart
from shared.config.model import MemoryPressure
from shared.messages import (
    ContainerFact,
    PressureFact,
)
from shared.messages.facts import ContainerState
from tests.support.views import pressure

MIB = 1024**2
CFG = MemoryPressure()  # critical: some_avg60 > 40; emergency: full_avg10 > 25; cooldown 300


def c(
    name: str, rss_mib: int | None, tier: int, state: ContainerState = "running"
) -> ContainerFact:
    rss = None if rss_mib is None else rss_mib * MIB
    return ContainerFact(id=name * 4, name=name, state=state, tier=tier, rss_bytes=rss)


TIER3 = [c("small", 100, 3), c("big", 300, 3)]
TIER2 = [c("x", 500, 2), c("y", 200, 2)]


@pytest.mark.parametrize(
    ("fact", "tier3", "tier2", "restarted_at", "expected", "kind"),
    [
        (pressure(full10=25.0), TIER3, TIER2, {}, None, None),  # at the threshold: not above
        (pressure(full10=25.01), TIER3, TIER2, {}, "big", "memory_emergency_restart"),
        (pressure(some60=40.0), TIER3, TIER2, {}, None, None),
        (pressure(some60=40.01), TIER3, TIER2, {}, "big", "memory_critical_restart"),
        # Stage 3 comes first when both trip.
        (pressure(some60=90, full10=90), TIER3, TIER2, {}, "big", "memory_emergency_restart"),
        # Emergency escalates to tier 2 when tier 3 has nobody left ...
        (pressure(full10=30), [], TIER2, {}, "x", "memory_emergency_restart"),
        (
            pressure(full10=30),
            [c("p", 900, 3, "paused"), c("e", 900, 3, "exited"), c("u", None, 3)],
            TIER2,
            {},
            "x",
            "memory_emergency_restart",
        ),
        # ... critical never does.
        (pressure(some60=90), [], TIER2, {}, None, None),
        # Global gate: a restart of anything 200 s ago holds every restart.
        (pressure(full10=90), TIER3, TIER2, {"other": 800.0}, None, None),
        (pressure(some60=90), TIER3, TIER2, {"big": 999.0}, None, None),
        # Exactly the cooldown later the gate is open again.
        (pressure(full10=90), TIER3, TIER2, {"big": 700.0}, "big", "memory_emergency_restart"),
        # Unknown pressure restarts nothing.
        (None, TIER3, TIER2, {}, None, None),
        (PressureFact(host="h", memory=None), TIER3, TIER2, {}, None, None),
        # No full line: stage 3 is unknown, stage 2 still reads some_avg60.
        (pressure(some60=0, full10=None), TIER3, TIER2, {}, None, None),
        (pressure(some60=50, full10=None), TIER3, TIER2, {}, "big", "memory_critical_restart"),
        # Calm.
        (pressure(), TIER3, TIER2, {}, None, None),
    ],
)
def test_restart(
    fact: PressureFact | None,
    tier3: list[ContainerFact],
    tier2: list[ContainerFact],
    restarted_at: dict[str, float],
    expected: str | None,
    kind: str | None,
) -> None:
    out = memory_restart(CFG, restarted_at, fact, tier3, tier2, 1000.0)
    if expected is None:
        assert out.restart is None and out.events == []
        return
    assert out.restart is not None and out.restart.container == expected
    assert out.restart.reason.rule == kind
    assert [e.kind for e in out.events] == [kind]
    assert out.restarted_at[expected] == 1000.0


def test_gate_holds_then_opens_and_wakes_when_it_does() -> None:
    fact = pressure(full10=50)
    first = memory_restart(CFG, {}, fact, TIER3, TIER2, 1000.0)
    assert first.restart is not None and first.restart.container == "big"
    held = memory_restart(CFG, first.restarted_at, fact, TIER3, TIER2, 1001.0)
    assert held.restart is None and held.wake_at == 1300.0
    held = memory_restart(CFG, held.restarted_at, fact, TIER3, TIER2, 1299.9)
    assert held.restart is None
    again = memory_restart(CFG, held.restarted_at, fact, TIER3, TIER2, 1300.0)
    assert again.restart is not None


def test_old_restarts_are_forgotten() -> None:
    memory = {"old": 100.0, "recent": 900.0}
    out = memory_restart(CFG, memory, pressure(), TIER3, TIER2, 1000.0)
    assert out.restarted_at == {"recent": 900.0}


def test_event_says_what_and_why() -> None:
    out = memory_restart(CFG, {}, pressure(full10=30), [], TIER2, 0)
    (event,) = out.events
    assert event.severity == "critical"
    assert "x" in event.message and "Tier 2" in event.message and "no Tier 3" in event.message
    assert out.restart is not None
    assert str(out.restart.reason) == "memory_emergency_restart(memory.full_avg10=30.0 > 25.0)"


def test_ties_are_broken_by_name_so_a_replay_picks_the_same() -> None:
    twins = [c("b", 100, 3), c("a", 100, 3)]
    out = memory_restart(CFG, {}, pressure(full10=90), twins, [], 0)
    assert out.restart is not None and out.restart.container == "b"


def test_disabled_restarts_nothing() -> None:
    cfg = MemoryPressure(enabled=False)
    out = memory_restart(cfg, {}, pressure(full10=99), TIER3, TIER2, 0)
    assert out.restart is None
