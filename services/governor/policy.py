"""Every rule composed: (config, facts, memory, time) -> the decision. Pure.

`RULES` is the one list of rules. Each sees the same `View` and its own memory
slice and returns an `Outcome`; `decide` merges them the same way for all: a
container's intents are combined (paused while any rule pauses it, the tighter
of each limit, every reason kept in the order of `RULES`), and the rest is
concatenated. A new rule is a file in `rules/` and a line here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, tzinfo
from typing import Any, TypeVar

from pydantic import BaseModel

from services.governor.outcome import EventDraft, LogNote, RestartDraft, earliest
from services.governor.rule import (
    M,
    Outcome,
    Rule,
    Target,
    View,
    merge_download,
    merge_group_intent,
    merge_intent,
)
from services.governor.rules import (
    bandwidth,
    conditions,
    cpu_yield,
    gpu_share,
    io_pressure,
    io_yield,
    manual_pause,
    media_mode,
    memory_pressure,
    process_groups,
    protect,
    schedules,
    thermal,
)
from shared.config.model import WardenConfig
from shared.messages import (
    ContainerIntent,
    ContainerInventory,
    DownloadClientIntent,
    GovernorStatus,
    GpuFact,
    PressureFact,
    ProcessesFact,
    ProcessGroupIntent,
    Reason,
    ResourcesFact,
    StreamsFact,
    Switches,
    ThermalFact,
)
from shared.messages.overrides import Override
from shared.tier_matcher import TierMatcher

T = TypeVar("T")
# Providers with no stream count to wait for: triggers alone drive media mode.
STREAMLESS_PROVIDERS = ("webhook", "none")
# A container in these states has processes a rule can act on.
LIVE_STATES = ("running", "paused")

# Conditions and schedules come first: what they set (media mode forced, a preset, a
# container protected) is what the rules after them see (rule.Modes).
RULES: tuple[Rule[Any], ...] = (
    conditions.RULE,
    schedules.RULE,
    media_mode.RULE,
    manual_pause.RULE,
    memory_pressure.RULE,
    thermal.RULE,
    io_pressure.RULE,
    protect.RULE,
    cpu_yield.RULE,
    io_yield.RULE,
    process_groups.RULE,
    bandwidth.RULE,
    gpu_share.RULE,
)


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
    # The streams reading itself (its sessions), arrived with streams_seen_at.
    stream_report: StreamsFact | None = None
    # The host processes the conditions watch, and when the reading arrived.
    processes: ProcessesFact | None = None
    processes_seen_at: float | None = None
    # MQTT topic -> the text last received there (the topics conditions watch).
    topic_values: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Memory:
    """What the governor carries from one decision to the next."""

    switches: Switches = field(default_factory=Switches)
    # Rule name -> its memory slice; absent: the rule starts afresh.
    rules: Mapping[str, BaseModel] = field(default_factory=dict)

    def of(self, rule: Rule[M]) -> M:
        kept = self.rules.get(rule.name)
        return kept if isinstance(kept, rule.memory) else rule.fresh()


@dataclass(frozen=True)
class Decision:
    memory: Memory
    status: GovernorStatus
    containers: dict[str, ContainerIntent]
    events: list[EventDraft] = field(default_factory=list)
    # Wall-clock time at which the decision changes by itself (a cooldown ends).
    wake_at: float | None = None
    # The download client's global limit while media plays (ADRG's download_throttle).
    download_limit_bps: int | None = None
    # The download client's limits with `bandwidth` set (the fixed limit folded in).
    download_client: DownloadClientIntent | None = None
    # The containers rules could target, less those a condition protects: timed overrides
    # act on these.
    targets: list[Target] = field(default_factory=list)
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

    @property
    def media_mode(self) -> bool:
        return self.status.media_mode


def enforceable(inventory: ContainerInventory | None, matcher: TierMatcher) -> list[Target]:
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


def sensor_stale_after(cfg: WardenConfig) -> float:
    """Sensors re-send every fact on a heartbeat: three missed ones and it says nothing."""
    return cfg.governor.stale_after_seconds or 3 * cfg.sensors.heartbeat_seconds


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


def fresh_streams(facts: Facts, now: float, stale_after: float) -> tuple[int | None, float | None]:
    """The stream count as of now (None once the reading is stale), and when it goes stale.

    A reading from a sensor that has gone silent says nothing about now: it
    is unknown, with what unknown means to the rules (it never ends media mode).
    """
    return fresh_fact(facts.streams, facts.streams_seen_at, now, stale_after)


def view_of(
    cfg: WardenConfig,
    matcher: TierMatcher,
    facts: Facts,
    switches: Switches,
    now: float,
    zone: tzinfo = UTC,
    overrides: Sequence[Override] = (),
) -> tuple[View, float | None]:
    """What the rules see now (each stale fact unknown), and when the next fact goes stale."""
    stale_after = sensor_stale_after(cfg)
    streams, streams_stale_at = fresh_streams(
        facts, now, cfg.governor.streams_stale_after(cfg.media_mode)
    )
    if streams is None and cfg.media_mode.provider in STREAMLESS_PROVIDERS:
        streams = 0  # nothing reports streams: zero is known, not a guess
    pressure, pressure_stale_at = fresh_fact(
        facts.pressure, facts.pressure_seen_at, now, stale_after
    )
    resources, resources_stale_at = fresh_fact(
        facts.resources, facts.resources_seen_at, now, stale_after
    )
    heat, heat_stale_at = fresh_fact(facts.thermal, facts.thermal_seen_at, now, stale_after)
    gpu, gpu_stale_at = fresh_fact(facts.gpu, facts.gpu_seen_at, now, stale_after)
    processes, processes_stale_at = fresh_fact(
        facts.processes, facts.processes_seen_at, now, stale_after
    )
    view = View(
        cfg=cfg,
        matcher=matcher,
        now=now,
        switches=switches,
        targets=tuple(enforceable(facts.inventory, matcher)),
        cpu_count=facts.inventory.cpu_count if facts.inventory else 1,
        streams=streams,
        pressure=pressure,
        pressure_seen_at=facts.pressure_seen_at,
        resources=resources,
        thermal=heat,
        gpu=gpu,
        stream_report=facts.stream_report if streams is not None else None,
        containers=tuple(facts.inventory.containers) if facts.inventory else None,
        processes=processes,
        topic_values=facts.topic_values,
        zone=zone,
        overrides=tuple(overrides),
    )
    stale_at = earliest(
        streams_stale_at,
        pressure_stale_at,
        resources_stale_at,
        heat_stale_at,
        gpu_stale_at,
        processes_stale_at,
    )
    return view, stale_at


def decide(
    cfg: WardenConfig,
    matcher: TierMatcher,
    facts: Facts,
    memory: Memory,
    now: float,
    zone: tzinfo = UTC,
    overrides: Sequence[Override] = (),
) -> Decision:
    view, stale_at = view_of(cfg, matcher, facts, memory.switches, now, zone, overrides)
    outcomes: list[Outcome[Any]] = []
    for rule in RULES:
        outcome = rule.run(view, memory.of(rule))
        outcomes.append(outcome)
        view = view.with_modes(outcome.modes)

    containers: dict[str, ContainerIntent] = {}
    groups: dict[str, ProcessGroupIntent] = {}
    readings: dict[str, str] = {}
    status: dict[str, Any] = {}
    client: DownloadClientIntent | None = None
    for outcome in outcomes:
        for name, ask in outcome.containers.items():
            containers[name] = merge_intent(containers.get(name), ask)
        for name, group_ask in outcome.process_groups.items():
            groups[name] = merge_group_intent(groups.get(name), group_ask)
        if outcome.download_client is not None:
            client = merge_download(client, outcome.download_client)
        readings.update(outcome.readings)
        status.update(outcome.status)
    limits = [o.download_limit_bps for o in outcomes if o.download_limit_bps is not None]
    if client is not None and limits:
        # ADRG's fixed limit while media mode is on, folded into the stream-aware ones.
        fixed = DownloadClientIntent(
            download_bps=min(limits),
            reasons=[Reason(rule="media_mode", detail="download_throttle")],
        )
        client = merge_download(client, fixed)
    return Decision(
        memory=Memory(
            memory.switches, {rule.name: o.memory for rule, o in zip(RULES, outcomes, strict=True)}
        ),
        status=GovernorStatus.model_validate(status),
        containers={name: stable(i, name, readings) for name, i in containers.items()},
        events=[e for o in outcomes for e in o.events],
        wake_at=earliest(stale_at, *(o.wake_at for o in outcomes)),
        download_limit_bps=min(limits, default=None),
        download_client=client,
        targets=list(view.targets),
        process_groups={name: stable(i, name, readings) for name, i in groups.items()},
        actions=[a for o in outcomes for a in o.actions],
        notes=[n for o in outcomes for n in o.notes],
        readings=readings,
    )


Intent = TypeVar("Intent", ContainerIntent, ProcessGroupIntent)


def stable(intent: Intent, name: str, live: dict[str, str]) -> Intent:
    """The intent with its reasons' live values moved out, into live[name]."""
    if all(r.value is None for r in intent.reasons):
        return intent
    live[name] = "; ".join(str(r) for r in intent.reasons)
    reasons = [r.model_copy(update={"value": None}) for r in intent.reasons]
    return intent.model_copy(update={"reasons": reasons})
