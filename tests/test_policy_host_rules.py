"""Thermal, I/O pressure and memory restarts composed with the other rules, and staleness."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from services.governor.policy import Facts, decide, sensor_stale_after
from services.governor.rules.media_mode import MediaMemory
from shared.messages import (
    PressureFact,
)
from shared.units import MIB
from tests.support.household import CFG, GIB, MATCHER, NAMES, UNTOUCHABLE, inventory
from tests.support.views import flat, heat, pressure, remembered, switched

RSS = {
    **dict.fromkeys(NAMES, 3 * GIB),
    "kopia": 9 * GIB,
    "postgres": 9 * GIB,
    "pihole": 9 * GIB,
    "tdarr": 2 * GIB,
}
STALE = sensor_stale_after(CFG)


def facts(p: PressureFact | None = None, t: float | None = None, at: float = 0) -> Facts:
    return Facts(
        pressure=p,
        pressure_seen_at=at,
        inventory=inventory(rss=RSS),
        thermal=heat(t) if t is not None else None,
        thermal_seen_at=at,
    )


def test_thermal_stage2_pauses_tiers_2_and_3_but_spares_the_protected() -> None:
    d = decide(CFG, MATCHER, facts(pressure(io10=0), 85), remembered(), 0)
    assert sorted(d.containers) == ["sonarr", "tdarr", "tdarr_node"]
    assert all(i.paused for i in d.containers.values())
    assert [r.rule for r in d.containers["sonarr"].reasons] == ["thermal_stage2"]
    assert [r.rule for r in d.containers["tdarr"].reasons] == ["thermal_stage1"]
    assert [e.kind for e in d.events] == ["thermal_stage2"]
    assert flat(d.memory).thermal_stage == 2


def test_paused_for_several_reasons_stays_paused_until_all_clear() -> None:
    memory = remembered(media_forced=True)
    d = decide(CFG, MATCHER, facts(pressure(io10=90), 77), memory, 0)
    tdarr = d.containers["tdarr"]
    assert tdarr.paused and [r.rule for r in tdarr.reasons] == [
        "media_mode",
        "thermal_stage1",
        "io_pressure",
    ]
    assert tdarr.io_max is not None and tdarr.io_max.read_bps == 5 * MIB
    # Media mode off: thermal still pauses; sonarr keeps nothing (stage 1 spares tier 2).
    memory = replace(
        switched(d.memory, media_forced=False),
        rules={**d.memory.rules, "media_mode": MediaMemory()},
    )
    d = decide(CFG, MATCHER, facts(pressure(io10=90), 77, at=1), memory, 1)
    assert d.containers["tdarr"].paused and "sonarr" not in d.containers
    # Cool and calm, held long enough: everything back.
    d = decide(CFG, MATCHER, facts(pressure(io10=1), 50, at=2), d.memory, 2)
    assert d.containers["tdarr"].paused  # the holds have only begun
    d = decide(CFG, MATCHER, facts(pressure(io10=1), 50, at=2), d.memory, 32)
    assert d.containers == {}


def test_io_max_merges_with_media_modes_tier2_limits_untouched() -> None:
    memory = remembered(media_forced=True)
    d = decide(CFG, MATCHER, facts(pressure(io10=90)), memory, 0)
    assert d.containers["sonarr"].io_max is not None
    assert d.containers["sonarr"].io_max.read_bps == 10 * MIB  # media mode's, tier 2 only
    assert d.containers["tdarr_node"].io_max is not None
    assert d.containers["tdarr_node"].io_max.write_bps == 2 * MIB


def test_restart_is_an_action_and_clears_the_squeeze_floor() -> None:
    memory = remembered(squeeze_floor={"tdarr_node": 2 * GIB, "tdarr": 2 * GIB})
    d = decide(CFG, MATCHER, facts(pressure(some10=80, full10=50, io10=0)), memory, 0)
    assert [(a.container, a.reason.rule) for a in d.actions] == [
        ("tdarr_node", "memory_emergency_restart")  # kopia is bigger, but protected
    ]
    assert (
        "tdarr_node" not in flat(d.memory).squeeze_floor and "tdarr" in flat(d.memory).squeeze_floor
    )
    assert flat(d.memory).restarted_at == {"tdarr_node": 0}
    again = decide(CFG, MATCHER, facts(pressure(some10=80, full10=50, io10=0)), d.memory, 1)
    assert again.actions == [] and again.wake_at is not None and again.wake_at <= 300


def test_stale_pressure_and_temperature_are_unknown_and_hold() -> None:
    d = decide(CFG, MATCHER, facts(pressure(io10=90), 85, at=0), remembered(), 0)
    assert d.wake_at == STALE  # when the readings go stale
    calm = facts(pressure(io10=1), 40, at=10)
    d = decide(CFG, MATCHER, calm, d.memory, 10)
    assert flat(d.memory).io_recovery_since == 10 and flat(d.memory).thermal_recovery_since == 10
    # The sensors fall silent before the hold ends: unknown, so nothing is released ...
    later = 10 + STALE
    d = decide(CFG, MATCHER, calm, d.memory, later)
    assert d.containers["tdarr"].paused and d.containers["tdarr"].io_max is not None
    assert "unknown" in str(d.containers["sonarr"].reasons[0])
    assert (
        flat(d.memory).io_recovery_since is None and flat(d.memory).thermal_recovery_since is None
    )
    # ... and a stale emergency reading restarts nothing.
    loud = facts(pressure(full10=90, io10=0), at=0)
    assert decide(CFG, MATCHER, loud, remembered(), STALE).actions == []


pressures = st.one_of(
    st.none(),
    st.builds(
        pressure,
        st.floats(0, 100),
        st.floats(0, 100),
        st.floats(0, 100),
        st.one_of(st.none(), st.floats(0, 100)),
    ),
)
temperatures = st.one_of(st.none(), st.floats(20, 100))
states = st.dictionaries(st.sampled_from(NAMES), st.sampled_from(["running", "paused", "exited"]))
steps = st.lists(
    # New readings (or the sensors stay silent), container states, seconds until the next.
    st.tuples(st.booleans(), pressures, temperatures, states, st.floats(0, 120)),
    max_size=25,
)


@settings(max_examples=200, deadline=None)
@given(steps)
def test_host_rules_never_target_the_untouchable_and_calm_down_to_baseline(
    sequence: list[tuple[bool, PressureFact | None, float | None, dict[str, str], float]],
) -> None:
    memory, now, current = remembered(), 0.0, Facts(inventory=inventory(rss=RSS))
    for fresh, p, t, container_states, dt in sequence:
        now += dt
        if fresh:
            current = Facts(
                pressure=p,
                pressure_seen_at=now,
                thermal=heat(t) if t is not None else None,
                thermal_seen_at=now,
                inventory=inventory(container_states, RSS),
            )
        d = decide(CFG, MATCHER, current, memory, now)
        assert not UNTOUCHABLE & set(d.containers)
        assert not UNTOUCHABLE & {a.container for a in d.actions}
        assert all(i.tier in (2, 3) for i in d.containers.values())
        memory = d.memory
    # Calm for the longest hold: cool, no pressure, every hold and cooldown over.
    longest = max(
        CFG.thermal.recovery_hold_seconds,
        CFG.io_pressure.recovery_hold_seconds,
        CFG.media_mode.cooldown_seconds,
    )
    calm = facts(pressure(io10=0), 40, at=now)
    d = decide(CFG, MATCHER, calm, memory, now)
    d = decide(CFG, MATCHER, calm, d.memory, now + longest)
    assert d.containers == {} and d.actions == [] and d.media_mode is False
    assert flat(d.memory).thermal_stage == 0 and not flat(d.memory).io_throttled
