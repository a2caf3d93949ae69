"""The governor's composed policy: which containers get which intents, and why."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from services.governor.policy import Facts, decide
from shared.messages import (
    PressureFact,
    PressureLine,
    ResourcePressure,
)
from tests.support.household import CFG, GIB, MATCHER, NAMES, UNTOUCHABLE, inventory
from tests.support.views import flat, remembered, triggered


def memory_pressure(avg10: float) -> PressureFact:
    # Only some_avg10 (the squeeze): stalls short of the restart stages.
    line = PressureLine(avg10=avg10, avg60=0, avg300=0, total=1)
    calm = PressureLine(avg10=0, avg60=0, avg300=0, total=1)
    return PressureFact(host="h", memory=ResourcePressure(some=line, full=calm))


def test_calm_host_has_an_empty_desired_state() -> None:
    d = decide(CFG, MATCHER, Facts(memory_pressure(0), inventory()), remembered(), 0)
    assert d.containers == {} and d.media_mode is False


def test_media_mode_pauses_tier3_and_throttles_tier2_but_spares_the_protected() -> None:
    memory = triggered(remembered(), "media_start")
    d = decide(CFG, MATCHER, Facts(None, inventory()), memory, 0)
    assert d.media_mode is True
    assert sorted(d.containers) == ["sonarr", "tdarr", "tdarr_node"]
    assert d.containers["tdarr"].paused and d.containers["tdarr"].reasons[0].rule == "media_mode"
    sonarr = d.containers["sonarr"]
    assert not sonarr.paused
    assert sonarr.cpu_max is not None and sonarr.cpu_max.quota_us == 80_000  # 20% x 4 cores
    assert sonarr.io_max is not None and sonarr.io_max.read_bps == 10 * 1024**2
    assert [e.kind for e in d.events] == ["media_mode_activated"]


def test_exited_containers_get_no_intent() -> None:
    memory = remembered(media_forced=True)
    d = decide(CFG, MATCHER, Facts(None, inventory({"tdarr": "exited"})), memory, 0)
    assert "tdarr" not in d.containers and "tdarr_node" in d.containers


def test_reasons_compose_media_and_manual_pause_and_squeeze() -> None:
    memory = remembered(media_active=True, media_forced=True, tier3_manual_pause=True)
    d = decide(CFG, MATCHER, Facts(memory_pressure(70), inventory()), memory, 0)
    rules = [r.rule for r in d.containers["tdarr"].reasons]
    assert rules == ["media_mode", "manual_pause", "memory_squeeze"]
    assert d.containers["tdarr"].memory_high == 3 * GIB
    # media_stop alone leaves tier 3 paused: the manual pause still holds
    memory = triggered(d.memory, "media_stop")
    d = decide(
        CFG.model_copy(
            update={"media_mode": CFG.media_mode.model_copy(update={"cooldown_seconds": 0})}
        ),
        MATCHER,
        Facts(None, inventory()),
        memory,
        0,
    )
    assert d.containers["tdarr"].paused
    assert [r.rule for r in d.containers["tdarr"].reasons] == ["manual_pause", "memory_squeeze"]


def test_squeeze_is_remembered_and_released() -> None:
    d = decide(CFG, MATCHER, Facts(memory_pressure(70), inventory()), remembered(), 0)
    assert flat(d.memory).squeeze_floor == {"tdarr": 3 * GIB, "tdarr_node": 3 * GIB}
    d = decide(CFG, MATCHER, Facts(memory_pressure(10), inventory()), d.memory, 1)
    assert d.containers == {} and flat(d.memory).squeeze_floor == {}


pressures = st.one_of(st.none(), st.floats(0, 100).map(memory_pressure))
triggers = st.sampled_from(["media_start", "media_stop", "tier3_pause", "tier3_resume"])
states = st.dictionaries(st.sampled_from(NAMES), st.sampled_from(["running", "paused", "exited"]))
steps = st.lists(
    st.tuples(pressures, st.one_of(st.none(), triggers), states, st.floats(0, 30)), max_size=25
)


@settings(max_examples=200, deadline=None)
@given(steps)
def test_never_targets_tier0_protected_or_unknown_and_calms_down_to_baseline(
    sequence: list[tuple[PressureFact | None, str | None, dict[str, str], float]],
) -> None:
    memory, now = remembered(), 0.0
    for pressure, trigger, container_states, dt in sequence:
        now += dt
        if trigger:
            memory = triggered(memory, trigger)
        d = decide(CFG, MATCHER, Facts(pressure, inventory(container_states)), memory, now)
        assert not UNTOUCHABLE & set(d.containers)
        memory = d.memory
    # Calm: no pressure, manual overrides lifted, past the longest hold time.
    for trigger in ("media_stop", "tier3_resume"):
        memory = triggered(memory, trigger)
    calm = Facts(memory_pressure(0), inventory())
    d = decide(CFG, MATCHER, calm, memory, now)
    d = decide(CFG, MATCHER, calm, d.memory, now + CFG.media_mode.cooldown_seconds)
    assert d.containers == {} and d.media_mode is False
