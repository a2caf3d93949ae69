"""Process groups (Optimizarr's throttling, done right): pause bare processes under load.

Every trigger is something the group does not cause by itself: host temperature,
memory pressure, and the CPU, memory and GPU use of everything else on the
host. An encoder pegs a CPU or GPU by design; pausing it for its own load
would stop it for good, which is why Optimizarr itself gave up pure utilisation
thresholds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from services.governor.rule import Outcome, Rule, View
from shared.config.model import MemoryPressure, ProcessGroup, Thermal, WardenConfig
from shared.messages import (
    GpuFact,
    PressureFact,
    ProcessGroupIntent,
    ProcessGroupUsage,
    Reason,
    ReasonCard,
    ResourcesFact,
    ThermalFact,
)
from shared.messages.base import Strict
from shared.presets import DEFAULT_PRESET, PresetName, in_force

# The rule named in each reason.
REASON_RULE = "process_group"
OTHERS_CPU = "others_cpu_percent"
OTHERS_MEMORY = "others_memory_percent"
OTHERS_GPU = "others_gpu_percent"
CPU_TEMP = "cpu_temp_c"
GPU_TEMP = "gpu_temp_c"
MEMORY_PRESSURE = "memory_pressure_some_avg10"


class ProcessGroupMemory(Strict):
    """A process group's pause state, and since when its trigger or its calm has held."""

    paused: bool = False
    # Wall-clock start of an unbroken run of over-threshold readings (while running).
    trigger_since: float | None = None
    # Wall-clock start of an unbroken run of readings under the resume level (while paused).
    calm_since: float | None = None
    # The readings that paused it: while any of them is unknown, it stays paused.
    tripped: list[str] = []


class GroupsMemory(Strict):
    """The rule's memory slice: group name -> its state, for groups not at rest."""

    groups: dict[str, ProcessGroupMemory] = {}


@dataclass(frozen=True)
class Readings:
    """The facts as of now; None: unknown (never received, stale, or unreadable)."""

    resources: ResourcesFact | None = None
    thermal: ThermalFact | None = None
    gpu: GpuFact | None = None
    pressure: PressureFact | None = None


@dataclass(frozen=True)
class Thresholds:
    preset: PresetName
    # The nice level to apply; None leaves the process's own.
    nice: int | None
    # Watched reading -> the level above which it pauses the group.
    limits: dict[str, float]
    resume_factor: float

    def resume_level(self, metric: str) -> float:
        return self.limits[metric] * self.resume_factor


@dataclass(frozen=True)
class GroupsOutcome:
    memory: dict[str, ProcessGroupMemory]
    intents: dict[str, ProcessGroupIntent]
    # When a hold ends and the outcome changes by itself.
    wake_at: float | None


def thresholds(
    group: ProcessGroup,
    run_time_preset: PresetName | None,
    thermal: Thermal,
    memory_pressure: MemoryPressure,
) -> Thresholds:
    """The group's own numbers first, then the run-time preset, the group's preset, balanced."""
    name = run_time_preset or group.preset or DEFAULT_PRESET
    numbers = in_force(group, name)
    limits: dict[str, float] = {
        OTHERS_CPU: numbers.cpu_threshold_percent,
        OTHERS_MEMORY: numbers.memory_threshold_percent,
        OTHERS_GPU: numbers.gpu_threshold_percent,
    }
    warn = thermal.warn_temp_c if thermal.enabled else None
    pressure = memory_pressure.some_avg10_threshold if memory_pressure.enabled else None
    for metric, own, default in (
        (CPU_TEMP, group.cpu_temp_c, warn),
        (GPU_TEMP, group.gpu_temp_c, warn),
        (MEMORY_PRESSURE, group.pressure_some_avg10, pressure),
    ):
        limit = own if own is not None else default
        if limit is not None:
            limits[metric] = limit
    return Thresholds(
        preset=name,
        nice=numbers.nice,
        limits=limits,
        resume_factor=1 - group.resume_margin_percent / 100,
    )


def _usage(resources: ResourcesFact, group: str) -> ProcessGroupUsage | None:
    return next((u for u in resources.process_groups if u.name == group), None)


def _others_cpu(resources: ResourcesFact | None, group: str) -> float | None:
    usage = _usage(resources, group) if resources else None
    if resources is None or usage is None:
        return None
    host, own = resources.machine.cpu_percent, usage.cpu_percent
    if host is None or own is None:
        return None
    return max(0.0, host - own)


def _others_memory(resources: ResourcesFact | None, group: str) -> float | None:
    usage = _usage(resources, group) if resources else None
    if resources is None or usage is None:
        return None
    machine = resources.machine
    used, total = machine.memory_used_percent, machine.memory_total_bytes
    if used is None or not total or usage.rss_bytes is None:
        return None
    return max(0.0, used - 100 * usage.rss_bytes / total)


def _others_gpu(gpu: GpuFact | None, usage: ProcessGroupUsage | None) -> float | None:
    """The busiest GPU's use by others; unknown unless every GPU says what the group uses."""
    if gpu is None or not gpu.available or not gpu.gpus or usage is None:
        return None
    pids = set(usage.pids)
    result = 0.0
    for device in gpu.gpus:
        if device.utilization_percent is None:
            return None
        own = 0.0
        if pids:  # a group with no process uses no GPU, whatever the driver can tell
            if device.processes is None:
                return None
            for p in device.processes:
                if p.pid in pids:
                    if p.utilization_percent is None:
                        return None
                    own += p.utilization_percent
        result = max(result, device.utilization_percent - own)
    return max(0.0, result)


def _gpu_temp(gpu: GpuFact | None) -> float | None:
    if gpu is None or not gpu.available or not gpu.gpus:
        return None
    temps = [d.temperature_celsius for d in gpu.gpus]
    if any(t is None for t in temps):
        return None
    return max(t for t in temps if t is not None)


def readings_for(group: str, facts: Readings) -> dict[str, float | None]:
    resources, thermal, pressure = facts.resources, facts.thermal, facts.pressure
    usage = _usage(resources, group) if resources else None
    return {
        OTHERS_CPU: _others_cpu(resources, group),
        OTHERS_MEMORY: _others_memory(resources, group),
        OTHERS_GPU: _others_gpu(facts.gpu, usage),
        CPU_TEMP: thermal.max_celsius if thermal is not None and thermal.available else None,
        GPU_TEMP: _gpu_temp(facts.gpu),
        MEMORY_PRESSURE: (
            pressure.memory.some.avg10 if pressure is not None and pressure.memory else None
        ),
    }


def _step(
    state: ProcessGroupMemory,
    limits: Thresholds,
    hold: tuple[float, float],
    values: dict[str, float | None],
    now: float,
) -> tuple[ProcessGroupMemory, list[Reason], float | None]:
    """One group: its next state, why it is paused (empty: it runs), and when to look again."""
    pause_hold, resume_hold = hold
    watched = limits.limits
    over = [m for m, limit in watched.items() if (v := values.get(m)) is not None and v > limit]
    if not state.paused:
        if not over:
            return ProcessGroupMemory(), [], None
        since = state.trigger_since if state.trigger_since is not None else now
        if now < since + pause_hold:
            return ProcessGroupMemory(trigger_since=since), [], since + pause_hold
        paused = ProcessGroupMemory(paused=True, tripped=sorted(over))
        return paused, _why_paused(paused.tripped, over, values, limits, resume_hold), None

    tripped = sorted(set(state.tripped) | set(over))
    unknown = [m for m in tripped if m in watched and values.get(m) is None]
    warm = [
        m
        for m in watched
        if m not in over and (v := values.get(m)) is not None and v >= limits.resume_level(m)
    ]
    calm_since: float | None = None
    if not (over or warm or unknown):
        calm_since = state.calm_since if state.calm_since is not None else now
        if now >= calm_since + resume_hold:
            return ProcessGroupMemory(), [], None
    reasons = _why_paused(tripped, over, values, limits, resume_hold)
    reasons += [Reason(rule=REASON_RULE, detail=f"{m} unknown: stays paused") for m in unknown]
    paused = ProcessGroupMemory(paused=True, calm_since=calm_since, tripped=tripped)
    return paused, reasons, calm_since + resume_hold if calm_since is not None else None


def _why_paused(
    tripped: list[str],
    over: list[str],
    values: dict[str, float | None],
    limits: Thresholds,
    resume_hold: float,
) -> list[Reason]:
    """One reason per reading that paused the group, the same for the whole pause: a reading
    moving between over, warm and calm re-publishes nothing (its value is a live reading)."""
    reasons = [
        Reason(
            rule=REASON_RULE,
            metric=m,
            value=round(v, 1) if m in over and (v := values.get(m)) is not None else None,
            threshold=limits.limits[m],
            detail=f"resumes after {resume_hold:g}s below {limits.resume_level(m):.1f}",
        )
        for m in tripped
        if m in limits.limits
    ]
    # What paused it is watched no more (another preset): only the calm hold is left.
    return reasons or [Reason(rule=REASON_RULE, detail=f"resumes after {resume_hold:g}s of calm")]


def process_groups(
    groups: Sequence[ProcessGroup],
    run_time_preset: PresetName | None,
    thermal: Thermal,
    memory_pressure: MemoryPressure,
    facts: Readings,
    memory: dict[str, ProcessGroupMemory],
    now: float,
    set_by: Mapping[str, tuple[PresetName, Reason]] | None = None,
) -> GroupsOutcome:
    """Pause on any known reading over its threshold held pause_hold_seconds; resume once every
    reading has been under its resume level for resume_hold_seconds.

    Unknown never pauses and never resumes: an unknown reading starts no pause, and
    while a reading that paused the group is unknown, the group stays paused.
    set_by: a group's preset from a schedule or condition (before the run-time preset),
    with its reason.
    """
    states: dict[str, ProcessGroupMemory] = {}
    intents: dict[str, ProcessGroupIntent] = {}
    wakes: list[float] = []
    for group in groups:
        chosen = (set_by or {}).get(group.name)
        preset = chosen[0] if chosen is not None else run_time_preset
        limits = thresholds(group, preset, thermal, memory_pressure)
        state, reasons, wake = _step(
            memory.get(group.name, ProcessGroupMemory()),
            limits,
            (group.pause_hold_seconds, group.resume_hold_seconds),
            readings_for(group.name, facts),
            now,
        )
        if state != ProcessGroupMemory():
            states[group.name] = state
        if wake is not None:
            wakes.append(wake)
        nice = limits.nice if limits.nice != group.nice else None
        if nice is not None:
            reasons.append(Reason(rule="preset", detail=f"{limits.preset}: nice {nice}"))
        if reasons and chosen is not None:
            reasons.append(chosen[1])
        if reasons:
            intents[group.name] = ProcessGroupIntent(
                paused=state.paused, nice=nice, reasons=reasons
            )
    return GroupsOutcome(states, intents, min(wakes) if wakes else None)


def process_groups_rule(view: View, memory: GroupsMemory) -> Outcome[GroupsMemory]:
    cfg = view.cfg
    readings = Readings(
        resources=view.resources, thermal=view.thermal, gpu=view.gpu, pressure=view.pressure
    )
    step = process_groups(
        cfg.process_groups,
        view.switches.preset,
        cfg.thermal,
        cfg.memory_pressure,
        readings,
        memory.groups,
        view.now,
        view.modes.presets,
    )
    return Outcome(
        GroupsMemory(groups=step.memory), process_groups=step.intents, wake_at=step.wake_at
    )


def cards(cfg: WardenConfig) -> list[ReasonCard]:
    """A group's thresholds are its own, carried by each reason with its reading."""
    on = bool(cfg.process_groups)
    return [
        ReasonCard(
            reason=REASON_RULE,
            rule="process_groups",
            title="a process group's thresholds crossed: the group paused",
            controls={"any": ["group_paused"]},
            ends="after its resume hold with every reading below its thresholds",
            enabled=on,
        ),
        ReasonCard(
            reason="preset",
            rule="process_groups",
            title="the run-time preset sets the groups' nice level",
            controls={"any": ["group_nice"]},
            ends="another preset, or none",
            enabled=on,
        ),
    ]


RULE = Rule("process_groups", GroupsMemory, process_groups_rule, cards)
