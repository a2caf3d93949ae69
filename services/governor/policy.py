"""All rules composed: (config, facts, memory, time) -> the desired state. Pure."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeVar

from services.governor.outcome import EventDraft, LogNote, RestartDraft, earliest
from services.governor.rules.io_pressure import io_pressure
from services.governor.rules.media_mode import media_mode
from services.governor.rules.memory_restart import memory_restart
from services.governor.rules.memory_squeeze import memory_squeeze
from services.governor.rules.process_groups import Readings, process_groups
from services.governor.rules.protect import Limit, protect
from services.governor.rules.thermal import thermal
from shared.config.model import WardenConfig
from shared.messages import (
    ContainerFact,
    ContainerIntent,
    ContainerInventory,
    CpuMax,
    GovernorMemory,
    GpuFact,
    IoMax,
    PressureFact,
    ProcessGroupIntent,
    Reason,
    ResourcesFact,
    ThermalFact,
)
from shared.tiers import TierMatcher
from shared.units import MB_PER_SEC

CPU_PERIOD_US = 100_000
T = TypeVar("T")
# Providers with no stream count to wait for.
STREAMLESS_PROVIDERS = ("webhook", "none")
# A container in these states has processes a rule can act on.
LIVE_STATES = ("running", "paused")


@dataclass(frozen=True)
class Facts:
    pressure: PressureFact | None = None
    inventory: ContainerInventory | None = None
    # Active media streams; None: no sensor reports them (unknown, not zero).
    streams: int | None = None
    # Wall-clock time the streams reading arrived; older than stale_after_seconds: unknown.
    streams_seen_at: float | None = None
    # Host usage, temperatures and GPUs, each with the wall-clock time it arrived.
    resources: ResourcesFact | None = None
    resources_seen_at: float | None = None
    thermal: ThermalFact | None = None
    thermal_seen_at: float | None = None
    gpu: GpuFact | None = None
    gpu_seen_at: float | None = None
    # Wall-clock time the pressure reading arrived; too old: unknown (see sensor_stale_after).
    pressure_seen_at: float | None = None


@dataclass(frozen=True)
class Decision:
    memory: GovernorMemory
    media_mode: bool
    containers: dict[str, ContainerIntent]
    events: list[EventDraft] = field(default_factory=list)
    # Wall-clock time at which the decision changes by itself (a cooldown ends).
    wake_at: float | None = None
    # The download client's global limit while media plays (ADRG's download_throttle).
    download_limit_bps: int | None = None
    process_groups: dict[str, ProcessGroupIntent] = field(default_factory=dict)
    # One-shot restarts to publish on the actions topic, each with a fresh id.
    actions: list[RestartDraft] = field(default_factory=list)
    # What the rules saw that is worth a log line but changes no intent.
    notes: list[LogNote] = field(default_factory=list)
    # Live readings behind the intents ("io_pressure(io.some_avg10=64.1 > 60.0)"), by
    # container, group or rule: for debug logs and the decision's attributes. The
    # intents' reasons hold only the rule and its threshold, so a moving reading
    # leaves the desired state as it is.
    readings: dict[str, str] = field(default_factory=dict)


def enforceable(
    inventory: ContainerInventory | None, matcher: TierMatcher
) -> list[tuple[ContainerFact, int]]:
    """Live containers in tiers 1-3 that are not protected: the only ones rules may target."""
    if inventory is None:
        return []
    result = []
    for container in inventory.containers:
        tier = matcher.tier_of(container.name)
        if (
            tier in (1, 2, 3)
            and container.state in LIVE_STATES
            and not matcher.is_protected(container.name)
        ):
            result.append((container, tier))
    return result


def fresh_streams(facts: Facts, now: float, stale_after: float) -> tuple[int | None, float | None]:
    """The stream count as of now (None once the reading is stale), and when it goes stale.

    A reading from a sensor that has gone silent says nothing about now: it
    is unknown, with what unknown means to the rules (it never ends media mode).
    """
    return fresh_fact(facts.streams, facts.streams_seen_at, now, stale_after)


def sensor_stale_after(cfg: WardenConfig) -> float:
    """Sensors re-send every fact on a heartbeat: three missed ones and it says nothing."""
    return cfg.governor.stale_after_seconds or 3 * cfg.sensors.heartbeat_seconds


def fresh_readings(facts: Facts, now: float, stale_after: float) -> tuple[Readings, float | None]:
    """Host facts as of now (a stale one is unknown), and when the next one goes stale."""
    stale_ats: list[float | None] = []

    def fresh(fact: T | None, seen_at: float | None) -> T | None:
        value, stale_at = fresh_fact(fact, seen_at, now, stale_after)
        stale_ats.append(stale_at)
        return value

    readings = Readings(
        resources=fresh(facts.resources, facts.resources_seen_at),
        thermal=fresh(facts.thermal, facts.thermal_seen_at),
        gpu=fresh(facts.gpu, facts.gpu_seen_at),
        pressure=fresh(facts.pressure, facts.pressure_seen_at),
    )
    return readings, earliest(*stale_ats)


def decide(
    cfg: WardenConfig, matcher: TierMatcher, facts: Facts, memory: GovernorMemory, now: float
) -> Decision:
    streams, streams_stale_at = fresh_streams(
        facts, now, cfg.governor.streams_stale_after(cfg.media_mode)
    )
    if streams is None and cfg.media_mode.provider in STREAMLESS_PROVIDERS:
        streams = 0  # nothing reports streams: triggers alone drive media mode
    media = media_mode(cfg.media_mode, memory, streams, now)
    targets = enforceable(facts.inventory, matcher)
    tier3 = [c for c, tier in targets if tier == 3]
    host = host_rules(cfg, facts, targets, memory, now)
    squeeze = memory_squeeze(
        cfg.memory_pressure, cfg.tier(3), host.pressure, tier3, memory.squeeze_floor
    )
    cpu_count = facts.inventory.cpu_count if facts.inventory else 1
    manual = Reason(rule="manual_pause", detail="tier3_pause trigger")

    intents: dict[str, ContainerIntent] = {}
    for container, tier in targets:
        reasons: list[Reason] = []
        paused = False
        cpu_max = io_max = memory_high = None
        if tier == 3:
            pause_reasons = [
                r for r in (media.reason, manual if memory.tier3_manual_pause else None) if r
            ]
            paused = bool(pause_reasons)
            reasons += pause_reasons
        if tier == 2 and media.reason:
            mm = cfg.media_mode
            cpu_max = CpuMax(
                quota_us=max(1000, int(mm.tier2_cpu_max_percent / 100 * CPU_PERIOD_US * cpu_count)),
                period_us=CPU_PERIOD_US,
            )
            io_max = IoMax(
                read_bps=int(mm.tier2_io_max_read_mb_per_sec * MB_PER_SEC),
                write_bps=int(mm.tier2_io_max_write_mb_per_sec * MB_PER_SEC),
            )
            reasons.append(media.reason)
        if container.name in squeeze.floors and squeeze.reason:
            memory_high = squeeze.floors[container.name]
            reasons.append(squeeze.reason)
        if reasons:
            intents[container.name] = ContainerIntent(
                tier=tier,
                paused=paused,
                memory_high=memory_high,
                cpu_max=cpu_max,
                io_max=io_max,
                reasons=reasons,
            )

    intents = merge_host_rules(intents, targets, host)

    readings, readings_stale_at = fresh_readings(facts, now, sensor_stale_after(cfg))
    guard = protect(
        cfg.protect,
        matcher,
        memory.protect,
        host.pressure,
        facts.pressure_seen_at,
        readings.resources.containers if readings.resources is not None else None,
        targets,
        cpu_count,
        float(cfg.sensors.psi_window_seconds),
        now,
    )
    intents = merge_limits(intents, targets, guard.limits)
    groups = process_groups(
        cfg.process_groups,
        memory.preset,
        cfg.thermal,
        cfg.memory_pressure,
        readings,
        memory.process_groups,
        now,
    )

    updated = media.memory.model_copy(
        update={
            "squeeze_floor": squeeze.floors,
            "process_groups": groups.memory,
            "protect": guard.memory,
        }
    )
    updated = remember_host_rules(updated, host)
    live: dict[str, str] = dict(guard.readings)
    stable_intents = {name: stable(i, name, live) for name, i in intents.items()}
    stable_groups = {name: stable(i, name, live) for name, i in groups.intents.items()}
    if media.wake_at is not None:
        live["media_mode"] = f"cooldown ends in {media.wake_at - now:.0f}s"
    return Decision(
        memory=updated,
        media_mode=media.memory.media_active,
        containers=stable_intents,
        events=[*media.events, *host.events],
        wake_at=earliest(
            media.wake_at,
            streams_stale_at,
            groups.wake_at,
            readings_stale_at,
            host.wake_at,
            guard.wake_at,
        ),
        download_limit_bps=download_limit(cfg, media.reason is not None),
        process_groups=stable_groups,
        actions=[host.restart] if host.restart else [],
        notes=host.notes,
        readings=live,
    )


Intent = TypeVar("Intent", ContainerIntent, ProcessGroupIntent)


def stable(intent: Intent, name: str, live: dict[str, str]) -> Intent:
    """The intent with its reasons' live values moved out, into live[name]."""
    if all(r.value is None for r in intent.reasons):
        return intent
    live[name] = "; ".join(str(r) for r in intent.reasons)
    reasons = [r.model_copy(update={"value": None}) for r in intent.reasons]
    return intent.model_copy(update={"reasons": reasons})


def merge_limits(
    intents: dict[str, ContainerIntent],
    targets: list[tuple[ContainerFact, int]],
    limits: dict[str, Limit],
) -> dict[str, ContainerIntent]:
    """Add the protect rule's limits: every reason is kept, the tighter limit wins."""
    merged = dict(intents)
    for container, tier in targets:
        limit = limits.get(container.name)
        if limit is None:
            continue
        current = merged.get(container.name)
        if current is None:
            merged[container.name] = ContainerIntent(
                tier=tier, cpu_max=limit.cpu_max, io_max=limit.io_max, reasons=list(limit.reasons)
            )
            continue
        cpu = current.cpu_max
        if limit.cpu_max is not None and (cpu is None or limit.cpu_max.quota_us < cpu.quota_us):
            cpu = limit.cpu_max
        merged[container.name] = current.model_copy(
            update={
                "cpu_max": cpu,
                "io_max": tighter_io(current.io_max, limit.io_max),
                "reasons": [*current.reasons, *limit.reasons],
            }
        )
    return merged


def fresh_fact(
    fact: T | None, seen_at: float | None, now: float, stale_after: float
) -> tuple[T | None, float | None]:
    """The fact as of now (None once stale: unknown, not zero), and when it goes stale."""
    if fact is None or seen_at is None:
        return fact, None
    stale_at = seen_at + stale_after
    if now >= stale_at:
        return None, None
    return fact, stale_at


# The GovernorMemory fields the thermal, I/O and restart rules own.
HOST_RULE_FIELDS = (
    "thermal_stage",
    "thermal_recovery_since",
    "thermal_warned",
    "io_throttled",
    "io_recovery_since",
    "restarted_at",
)


@dataclass(frozen=True)
class HostRules:
    """Thermal, I/O pressure and memory restarts (ADRG rules 1-3), over fresh facts."""

    pressure: PressureFact | None  # fresh, else None: what every pressure rule reads
    memory: GovernorMemory
    pauses: dict[int, Reason]  # tier -> why it is paused (thermal)
    tier3_io: tuple[IoMax, Reason] | None
    restart: RestartDraft | None
    events: list[EventDraft]
    notes: list[LogNote]
    wake_at: float | None


def host_rules(
    cfg: WardenConfig,
    facts: Facts,
    targets: list[tuple[ContainerFact, int]],
    memory: GovernorMemory,
    now: float,
) -> HostRules:
    stale_after = sensor_stale_after(cfg)
    pressure, pressure_stale_at = fresh_fact(
        facts.pressure, facts.pressure_seen_at, now, stale_after
    )
    heat, heat_stale_at = fresh_fact(facts.thermal, facts.thermal_seen_at, now, stale_after)
    celsius = heat.max_celsius if heat is not None and heat.available else None

    temp = thermal(cfg.thermal, memory, celsius, now)
    io = io_pressure(cfg.io_pressure, temp.memory, pressure, now)
    restart = memory_restart(
        cfg.memory_pressure,
        io.memory,
        pressure,
        [c for c, tier in targets if tier == 3],
        [c for c, tier in targets if tier == 2],
        now,
    )
    pauses = {tier: r for tier, r in ((3, temp.tier3), (2, temp.tier2)) if r is not None}
    return HostRules(
        pressure=pressure,
        memory=restart.memory,
        pauses=pauses,
        tier3_io=(io.limit, io.reason) if io.limit and io.reason else None,
        restart=restart.restart,
        events=[*temp.events, *restart.events],
        notes=temp.notes,
        wake_at=earliest(
            temp.wake_at, io.wake_at, restart.wake_at, pressure_stale_at, heat_stale_at
        ),
    )


def merge_host_rules(
    intents: dict[str, ContainerIntent],
    targets: list[tuple[ContainerFact, int]],
    host: HostRules,
) -> dict[str, ContainerIntent]:
    """Add the host rules' pauses and io.max to the intents: every reason is kept, the
    container stays paused while any reason pauses it, and the tighter io.max wins."""
    merged = dict(intents)
    for container, tier in targets:
        pause = host.pauses.get(tier)
        limit, io_reason = host.tier3_io if host.tier3_io and tier == 3 else (None, None)
        extra = [r for r in (pause, io_reason) if r is not None]
        if not extra:
            continue
        current = merged.get(container.name)
        if current is None:
            merged[container.name] = ContainerIntent(
                tier=tier, paused=pause is not None, io_max=limit, reasons=extra
            )
            continue
        merged[container.name] = current.model_copy(
            update={
                "paused": current.paused or pause is not None,
                "io_max": tighter_io(current.io_max, limit),
                "reasons": [*current.reasons, *extra],
            }
        )
    return merged


def tighter_io(a: IoMax | None, b: IoMax | None) -> IoMax | None:
    if a is None or b is None:
        return a or b

    def lower(x: int | None, y: int | None) -> int | None:
        return min(x, y) if x is not None and y is not None else x or y  # None: no limit

    return IoMax(read_bps=lower(a.read_bps, b.read_bps), write_bps=lower(a.write_bps, b.write_bps))


def remember_host_rules(memory: GovernorMemory, host: HostRules) -> GovernorMemory:
    update: dict[str, object] = {name: getattr(host.memory, name) for name in HOST_RULE_FIELDS}
    if host.restart is not None:
        # A restarted container starts afresh: its squeeze ratchets down from its new RSS.
        update["squeeze_floor"] = {
            name: floor
            for name, floor in memory.squeeze_floor.items()
            if name != host.restart.container
        }
    return memory.model_copy(update=update)


def download_limit(cfg: WardenConfig, media_on: bool) -> int | None:
    throttle = cfg.media_mode.download_throttle
    if not (media_on and throttle.enabled):
        return None
    return int(throttle.limit_mb_per_sec * MB_PER_SEC)
