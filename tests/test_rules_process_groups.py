"""The process-group rule: thresholds on everything but the group itself, holds, hysteresis."""

from __future__ import annotations

from dataclasses import replace
from typing import TypedDict, Unpack

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.governor.policy import Facts, Memory, decide
from services.governor.rules.process_groups import (
    CPU_TEMP,
    GPU_TEMP,
    MEMORY_PRESSURE,
    OTHERS_CPU,
    OTHERS_GPU,
    OTHERS_MEMORY,
    RULE,
    GroupsOutcome,
    ProcessGroupMemory,
    Readings,
    process_groups,
    thresholds,
)
from shared.config.model import MemoryPressure, ProcessGroup, Thermal, WardenConfig
from shared.messages import (
    GpuDevice,
    GpuFact,
    GpuProcess,
    HostUsage,
    PressureFact,
    ProcessGroupUsage,
    ResourcesFact,
    Switches,
    ThermalFact,
)
from shared.messages.base import PayloadError
from shared.messages.presets import parse_preset
from shared.presets import PresetName
from tests.support.views import pressure

GIB = 1024**3
THERMAL = Thermal()  # warn 70 °C
PRESSURE = MemoryPressure()  # some avg10 50
# No holds: each step decides at once, so the edges are about the numbers alone.
INSTANT = ProcessGroup(
    name="enc", match_name=["ffmpeg"], pause_hold_seconds=0, resume_hold_seconds=0
)
GROUP = ProcessGroup(name="enc", match_name=["ffmpeg"])  # holds 5 s / 30 s, margin 10 %


def usage(
    host_cpu: float | None = 10,
    own_cpu: float | None = 0,
    memory: float | None = 20,
    own_rss: int | None = 0,
    pids: tuple[int, ...] = (100,),
) -> ResourcesFact:
    return ResourcesFact(
        host="h",
        machine=HostUsage(
            cpu_count=4,
            cpu_percent=host_cpu,
            memory_total_bytes=10 * GIB,
            memory_used_percent=memory,
        ),
        process_groups=[
            ProcessGroupUsage(name="enc", pids=list(pids), cpu_percent=own_cpu, rss_bytes=own_rss)
        ],
    )


def thermal(celsius: float | None) -> ThermalFact:
    return ThermalFact(host="h", available=celsius is not None, max_celsius=celsius)


def gpu(
    util: float | None, own: float | None = None, temp: float | None = 40, per_process: bool = True
) -> GpuFact:
    processes = None
    if per_process:
        processes = [] if own is None else [GpuProcess(pid=100, utilization_percent=own)]
    device = GpuDevice(
        vendor="nvidia",
        index=0,
        source="nvml",
        utilization_percent=util,
        temperature_celsius=temp,
        processes=processes,
    )
    return GpuFact(host="h", available=True, gpus=[device])


def memory_pressure(avg10: float) -> PressureFact:
    return pressure(avg10, full10=avg10)


CALM = Readings(resources=usage(), thermal=thermal(40), gpu=gpu(5), pressure=memory_pressure(0))


class Changes(TypedDict, total=False):
    """Readings' fields, each of its own type."""

    resources: ResourcesFact | None
    thermal: ThermalFact | None
    gpu: GpuFact | None
    pressure: PressureFact | None


def with_(**changes: Unpack[Changes]) -> Readings:
    return replace(CALM, **changes)


def step(
    group: ProcessGroup,
    facts: Readings,
    memory: dict[str, ProcessGroupMemory] | None = None,
    now: float = 1000.0,
    preset: PresetName | None = None,
) -> GroupsOutcome:
    return process_groups([group], preset, THERMAL, PRESSURE, facts, memory or {}, now)


def paused(group: ProcessGroup, facts: Readings, preset: PresetName | None = None) -> bool:
    out = step(group, facts, preset=preset)
    return out.memory.get("enc", ProcessGroupMemory()).paused


# --- thresholds: strictly above pauses, at the threshold does not (balanced 85/80/85) --------


@pytest.mark.parametrize(
    ("facts", "expected", "metric"),
    [
        (with_(resources=usage(host_cpu=85)), False, OTHERS_CPU),
        (with_(resources=usage(host_cpu=85.1)), True, OTHERS_CPU),
        (with_(resources=usage(memory=80)), False, OTHERS_MEMORY),
        (with_(resources=usage(memory=80.1)), True, OTHERS_MEMORY),
        (with_(gpu=gpu(85)), False, OTHERS_GPU),
        (with_(gpu=gpu(85.1)), True, OTHERS_GPU),
        (with_(thermal=thermal(70)), False, CPU_TEMP),
        (with_(thermal=thermal(70.1)), True, CPU_TEMP),
        (with_(gpu=gpu(5, temp=70)), False, GPU_TEMP),
        (with_(gpu=gpu(5, temp=70.1)), True, GPU_TEMP),
        (with_(pressure=memory_pressure(50)), False, MEMORY_PRESSURE),
        (with_(pressure=memory_pressure(50.1)), True, MEMORY_PRESSURE),
    ],
)
def test_threshold_edges_and_reasons(facts: Readings, expected: bool, metric: str) -> None:
    out = step(INSTANT, facts)
    intent = out.intents["enc"]
    assert intent.paused is expected
    if expected:
        (reason,) = [r for r in intent.reasons if r.rule == "process_group"]
        assert reason.metric == metric and reason.value is not None and reason.threshold
        assert reason.value > reason.threshold


def test_reasons_compose() -> None:
    facts = with_(resources=usage(host_cpu=99, memory=95), thermal=thermal(90))
    intent = step(INSTANT, facts).intents["enc"]
    metrics = [r.metric for r in intent.reasons if r.metric]
    assert sorted(metrics) == sorted([OTHERS_CPU, OTHERS_MEMORY, CPU_TEMP])
    assert any(r.rule == "preset" for r in intent.reasons)  # nice 10 from balanced


# --- never the group's own use --------------------------------------------------------------


@pytest.mark.parametrize(
    "facts",
    [
        # 100 % CPU, all of it the group's own, on an otherwise idle host
        with_(resources=usage(host_cpu=100, own_cpu=100)),
        with_(resources=usage(host_cpu=95, own_cpu=90)),
        # its memory: 9 GiB of 10 is the group's
        with_(resources=usage(memory=95, own_rss=9 * GIB)),
        # its GPU: 99 % busy, 98 % of it the group's processes
        with_(gpu=gpu(99, own=98)),
    ],
)
def test_a_group_never_pauses_for_its_own_use(facts: Readings) -> None:
    memory: dict[str, ProcessGroupMemory] = {}
    for t in range(0, 600, 5):
        out = step(GROUP, facts, memory, now=float(t))
        memory = out.memory
        assert not out.intents["enc"].paused


def test_others_use_beside_the_groups_own_pauses() -> None:
    assert paused(INSTANT, with_(resources=usage(host_cpu=100, own_cpu=10)))
    assert paused(INSTANT, with_(gpu=gpu(99, own=10)))


# --- unknown is not zero --------------------------------------------------------------------


UNKNOWN = [
    Readings(),
    with_(resources=usage(host_cpu=None)),
    with_(resources=usage(own_cpu=None)),
    with_(resources=ResourcesFact(host="h", machine=HostUsage(cpu_count=1, cpu_percent=99))),
    with_(gpu=gpu(99, per_process=False)),  # per-process use unknown: others' use unknown
    with_(gpu=GpuFact(host="h", available=False)),
    with_(thermal=thermal(None)),
]


@pytest.mark.parametrize("facts", UNKNOWN)
def test_unknown_never_pauses(facts: Readings) -> None:
    assert not paused(INSTANT, facts)


@pytest.mark.parametrize(
    ("tripped", "facts"),
    [
        (OTHERS_CPU, Readings()),
        (OTHERS_CPU, with_(resources=usage(host_cpu=None))),
        (OTHERS_GPU, with_(gpu=gpu(1, per_process=False))),
        (CPU_TEMP, with_(thermal=thermal(None))),
    ],
)
def test_unknown_never_resumes(tripped: str, facts: Readings) -> None:
    memory = {"enc": ProcessGroupMemory(paused=True, tripped=[tripped])}
    out = step(INSTANT, facts, memory)
    assert out.memory["enc"].paused
    assert any("unknown" in r.detail for r in out.intents["enc"].reasons)


def test_a_group_with_no_process_uses_no_gpu_even_without_per_process_use() -> None:
    facts = with_(gpu=gpu(90, per_process=False), resources=usage(pids=()))
    assert paused(INSTANT, facts)


# --- hysteresis and hold times (fake clock) ---------------------------------------------------


def run(group: ProcessGroup, timeline: list[tuple[float, Readings]]) -> list[bool]:
    memory: dict[str, ProcessGroupMemory] = {}
    states = []
    for now, facts in timeline:
        out = step(group, facts, memory, now=now)
        memory = out.memory
        states.append(memory.get("enc", ProcessGroupMemory()).paused)
    return states


HOT = with_(resources=usage(host_cpu=90))


@pytest.mark.parametrize(
    ("cpu", "resumes"),
    # threshold 85, margin 10 %: resumes strictly below 76.5 only
    [(84, False), (76.5, False), (76.4, True), (10, True)],
)
def test_hysteresis(cpu: float, resumes: bool) -> None:
    facts = with_(resources=usage(host_cpu=cpu))
    assert run(INSTANT, [(0, HOT), (1, facts)]) == [True, not resumes]


def test_pause_hold() -> None:
    # the trigger must hold 5 s unbroken; a dip below restarts the count
    assert run(GROUP, [(0, HOT), (4.9, HOT), (5, HOT)]) == [False, False, True]
    assert run(GROUP, [(0, HOT), (3, CALM), (4, HOT), (8.9, HOT), (9, HOT)]) == [
        False,
        False,
        False,
        False,
        True,
    ]
    # an unknown reading breaks the run too: it never pauses
    assert run(GROUP, [(0, HOT), (3, Readings()), (5, HOT), (9, HOT)]) == [False] * 4


def test_resume_hold() -> None:
    # paused at 5 s; calm from 10 s must hold 30 s; warm again at 20 s restarts it
    timeline = [(0, HOT), (5, HOT), (10, CALM), (39.9, CALM), (40, CALM)]
    assert run(GROUP, timeline) == [False, True, True, True, False]
    warm = with_(resources=usage(host_cpu=80))  # under 85, not under 76.5
    timeline = [(0, HOT), (5, HOT), (10, CALM), (20, warm), (30, CALM), (59, CALM), (60, CALM)]
    assert run(GROUP, timeline) == [False, True, True, True, True, True, False]


def test_wake_at_is_when_a_hold_ends() -> None:
    out = step(GROUP, HOT, now=100)
    assert out.wake_at == 105
    out = step(GROUP, CALM, {"enc": ProcessGroupMemory(paused=True, tripped=[OTHERS_CPU])}, now=7)
    assert out.wake_at == 37
    assert step(GROUP, CALM, now=1).wake_at is None


# --- presets and overrides ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("preset", "cpu", "memory", "gpu_", "nice"),
    [
        ("conservative", 70, 70, 75, 15),
        ("balanced", 85, 80, 85, 10),
        ("aggressive", 95, 90, 95, 5),
    ],
)
def test_presets(preset: PresetName, cpu: float, memory: float, gpu_: float, nice: int) -> None:
    group = ProcessGroup(name="enc", match_name=["x"], preset=preset)
    t = thresholds(group, None, THERMAL, PRESSURE)
    assert (t.limits[OTHERS_CPU], t.limits[OTHERS_MEMORY], t.limits[OTHERS_GPU]) == (
        cpu,
        memory,
        gpu_,
    )
    assert t.nice == nice
    # the run-time preset wins over the config's
    other = thresholds(group, "aggressive" if preset != "aggressive" else "conservative", *_cfg())
    assert other.limits[OTHERS_CPU] != cpu and other.nice != nice


def _cfg() -> tuple[Thermal, MemoryPressure]:
    return THERMAL, PRESSURE


def test_explicit_settings_win_over_any_preset() -> None:
    group = ProcessGroup(
        name="enc",
        match_name=["x"],
        preset="conservative",
        cpu_threshold_percent=50,
        nice=3,
        cpu_temp_c=60,
        gpu_temp_c=88,
        pressure_some_avg10=10,
    )
    t = thresholds(group, "aggressive", THERMAL, PRESSURE)
    assert t.limits == {
        OTHERS_CPU: 50,
        OTHERS_MEMORY: 90,  # not set: the run-time preset's
        OTHERS_GPU: 95,
        CPU_TEMP: 60,
        GPU_TEMP: 88,
        MEMORY_PRESSURE: 10,
    }
    assert t.nice == 3


def test_defaults_follow_thermal_and_pressure_and_their_switches() -> None:
    t = thresholds(GROUP, None, THERMAL, PRESSURE)
    assert (t.limits[CPU_TEMP], t.limits[GPU_TEMP], t.limits[MEMORY_PRESSURE]) == (70, 70, 50)
    off = thresholds(GROUP, None, Thermal(enabled=False), MemoryPressure(enabled=False))
    assert not {CPU_TEMP, GPU_TEMP, MEMORY_PRESSURE} & set(off.limits)


def test_the_run_time_preset_moves_the_threshold_and_the_nice() -> None:
    facts = with_(resources=usage(host_cpu=80))
    assert not paused(INSTANT, facts, preset="balanced")
    out = step(INSTANT, facts, preset="conservative")
    assert out.intents["enc"].paused and out.intents["enc"].nice == 15
    # an explicit nice is the config's: the actuator needs no intent for it
    fixed = INSTANT.model_copy(update={"nice": 12})
    assert step(fixed, CALM, preset="aggressive").intents == {}


@pytest.mark.parametrize(
    ("payload", "name"),
    [
        (b"Balanced", "balanced"),
        (b" aggressive\n", "aggressive"),
        (b'{"preset": "Conservative"}', "conservative"),
        (b'"AGGRESSIVE"', "aggressive"),
    ],
)
def test_parse_preset(payload: bytes, name: str) -> None:
    assert parse_preset(payload) == name


@pytest.mark.parametrize("payload", [b"turbo", b"{", b'{"mode": "balanced"}', b"\xff", b"[1]"])
def test_parse_preset_refuses(payload: bytes) -> None:
    with pytest.raises(PayloadError):
        parse_preset(payload)


# --- through decide(): staleness and memory ----------------------------------------------------


def test_decide_carries_intents_memory_and_staleness() -> None:
    cfg = WardenConfig.model_validate(
        {
            "host_id": "h",
            "process_groups": [INSTANT.model_dump()],
            "sensors": {"heartbeat_seconds": 10},
        }
    )
    facts = Facts(resources=usage(host_cpu=99), resources_seen_at=100.0)
    d = decide(cfg, cfg.tier_matcher(), facts, Memory(Switches(preset="aggressive")), 101.0)
    assert d.process_groups["enc"].paused and d.process_groups["enc"].nice == 5
    assert d.memory.of(RULE).groups["enc"].paused and d.memory.switches.preset == "aggressive"
    assert d.wake_at == 130.0  # the reading goes stale after 3 heartbeats
    # stale: unknown, so it stays paused rather than resuming
    later = decide(cfg, cfg.tier_matcher(), facts, d.memory, 131.0)
    assert later.process_groups["enc"].paused


# --- property: after calm for the longest hold, nothing is paused ------------------------------

reading = st.builds(
    lambda cpu, own, mem, temp, gpu_util, psi, known: (
        Readings(
            resources=usage(host_cpu=cpu, own_cpu=min(own, cpu), memory=mem),
            thermal=thermal(temp),
            gpu=gpu(gpu_util),
            pressure=memory_pressure(psi),
        )
        if known
        else Readings()
    ),
    st.floats(0, 100),
    st.floats(0, 100),
    st.floats(0, 100),
    st.floats(20, 100),
    st.floats(0, 100),
    st.floats(0, 100),
    st.booleans(),
)
groups = st.builds(
    lambda preset, hold_p, hold_r, margin: ProcessGroup(
        name="enc",
        match_name=["x"],
        preset=preset,
        pause_hold_seconds=hold_p,
        resume_hold_seconds=hold_r,
        resume_margin_percent=margin,
    ),
    st.sampled_from(["conservative", "balanced", "aggressive", None]),
    st.floats(0, 60),
    st.floats(0, 120),
    st.floats(0, 50),
)


@settings(max_examples=200, deadline=None)
@given(
    group=groups,
    sequence=st.lists(st.tuples(st.floats(0, 30), reading), max_size=30),
    preset=st.sampled_from(["conservative", "balanced", "aggressive", None]),
)
def test_after_calm_for_the_longest_hold_nothing_is_paused(
    group: ProcessGroup,
    sequence: list[tuple[float, Readings]],
    preset: PresetName | None,
) -> None:
    memory: dict[str, ProcessGroupMemory] = {}
    now = 0.0
    for gap, facts in sequence:
        now += gap
        memory = process_groups([group], preset, THERMAL, PRESSURE, facts, memory, now).memory
    longest = max(group.pause_hold_seconds, group.resume_hold_seconds)
    calm = Readings(
        resources=usage(), thermal=thermal(20), gpu=gpu(0, temp=20), pressure=memory_pressure(0)
    )
    for t in (0.0, longest / 2, longest):
        out = process_groups([group], preset, THERMAL, PRESSURE, calm, memory, now + t)
        memory = out.memory
    assert "enc" not in memory
    assert not any(i.paused for i in out.intents.values())


def test_one_reason_for_the_whole_pause_while_a_reading_moves_between_over_warm_and_calm() -> None:
    memory: dict[str, ProcessGroupMemory] = {}
    seen = []
    # balanced: others' cpu pauses above 85, resumes after 30 s below 76.5.
    group = ProcessGroup(name="enc", match_name=["ffmpeg"], pause_hold_seconds=0)
    for now, cpu in enumerate((95, 84, 90, 70, 86, 10)):
        out = step(group, with_(resources=usage(host_cpu=cpu)), memory, now)
        memory = out.memory
        seen.append(out.intents["enc"])
    assert all(i.paused for i in seen)
    stripped = {tuple(r.model_copy(update={"value": None}) for r in i.reasons) for i in seen}
    assert len(stripped) == 1
