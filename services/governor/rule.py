"""The one shape every rule has: (view, its own memory slice) -> Outcome. Pure.

A rule is a function of what it sees now (`View`: the config, the fresh facts,
the containers it may target, the switches, the time) and of the memory slice
it owns, a pydantic model of its own. It returns one `Outcome`: what it asks of
containers and process groups, what to announce, its next memory slice, and
when it wants to be asked again. `policy.RULES` lists them; `policy.decide`
composes their outcomes the same way for all (see `merge_intent`), in the
style of oomd's detectors and actions: a new rule is one file and one line.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from services.governor.outcome import EventDraft, LogNote, RestartDraft
from shared.config.model import WardenConfig
from shared.messages import (
    ContainerFact,
    ContainerIntent,
    CpuMax,
    GpuFact,
    IoMax,
    PressureFact,
    ProcessGroupIntent,
    ReasonCard,
    ResourcesFact,
    StreamsFact,
    Switches,
    ThermalFact,
)
from shared.messages.base import Strict
from shared.messages.desired import lower, lower_rate
from shared.tier_matcher import TierMatcher

M = TypeVar("M", bound=BaseModel)
# A live, unprotected container in tiers 1-3, and its tier: the only ones a rule may target.
Target = tuple[ContainerFact, int]
StatusValue = bool | int


@dataclass(frozen=True)
class View:
    """What every rule sees: each fact fresh, or None when unknown (never sent, or stale)."""

    cfg: WardenConfig
    matcher: TierMatcher
    now: float
    switches: Switches = field(default_factory=Switches)
    targets: tuple[Target, ...] = ()
    cpu_count: int = 1
    # Active media streams; None: unknown, which is not zero.
    streams: int | None = None
    pressure: PressureFact | None = None
    # When the pressure reading arrived: a rule that steps once per reading tells them apart.
    pressure_seen_at: float | None = None
    resources: ResourcesFact | None = None
    thermal: ThermalFact | None = None
    gpu: GpuFact | None = None
    # The media server's sessions, fresh as `streams` is; None: unknown.
    stream_report: StreamsFact | None = None

    def tier(self, tier: int) -> list[ContainerFact]:
        return [c for c, t in self.targets if t == tier]


@dataclass(frozen=True)
class Outcome(Generic[M]):
    memory: M
    # Container name -> what this rule asks of it (each with its reasons).
    containers: Mapping[str, ContainerIntent] = field(default_factory=dict)
    process_groups: Mapping[str, ProcessGroupIntent] = field(default_factory=dict)
    events: list[EventDraft] = field(default_factory=list)
    notes: list[LogNote] = field(default_factory=list)
    actions: list[RestartDraft] = field(default_factory=list)
    # Wall-clock time at which the outcome changes by itself (a hold or cooldown ends).
    wake_at: float | None = None
    # Live readings behind the intents, for debug logs and the decision's attributes.
    readings: Mapping[str, str] = field(default_factory=dict)
    # Fields of GovernorStatus this rule owns (media_mode, thermal_stage, io_throttled).
    status: Mapping[str, StatusValue] = field(default_factory=dict)
    # The download client's global limit (ADRG's download_throttle).
    download_limit_bps: int | None = None


@dataclass(frozen=True)
class Rule(Generic[M]):
    # The key of its memory slice on the governor's memory topic: never rename one.
    name: str
    memory: type[M]
    run: Callable[[View, M], Outcome[M]]
    # What every face of Warden knows of it, under this config: a card per reason it
    # gives (what each may set, its thresholds, ADRG's name, how it ends).
    describe: Callable[[WardenConfig], list[ReasonCard]]

    def fresh(self) -> M:
        return self.memory()

    def restore(self, raw: Mapping[str, Any]) -> M:
        """The slice from its JSON; a pydantic ValidationError when it is not one."""
        return self.memory.model_validate(raw)


class NoMemory(Strict):
    """The slice of a rule that remembers nothing."""


def merge_intent(current: ContainerIntent | None, ask: ContainerIntent) -> ContainerIntent:
    """Two rules' asks of one container: paused while either pauses, the tighter of each
    limit, both rules' reasons."""
    if current is None:
        return ask
    return current.model_copy(
        update={
            "paused": current.paused or ask.paused,
            "memory_high": lower(current.memory_high, ask.memory_high),
            "cpu_max": tighter_cpu(current.cpu_max, ask.cpu_max),
            "io_max": tighter_io(current.io_max, ask.io_max),
            "cpu_idle": current.cpu_idle or ask.cpu_idle,
            "reasons": [*current.reasons, *(r for r in ask.reasons if r not in current.reasons)],
        }
    )


def merge_group_intent(
    current: ProcessGroupIntent | None, ask: ProcessGroupIntent
) -> ProcessGroupIntent:
    """Two rules' asks of one process group: paused while either pauses, the first nice
    level asked for, both rules' reasons."""
    if current is None:
        return ask
    return current.model_copy(
        update={
            "paused": current.paused or ask.paused,
            "nice": current.nice if current.nice is not None else ask.nice,
            "reasons": [*current.reasons, *(r for r in ask.reasons if r not in current.reasons)],
        }
    )


def tighter_cpu(a: CpuMax | None, b: CpuMax | None) -> CpuMax | None:
    if a is None or b is None:
        return a or b
    return b if b.quota_us / b.period_us < a.quota_us / a.period_us else a


def tighter_io(a: IoMax | None, b: IoMax | None) -> IoMax | None:
    """On every disk, the tighter of what holds there in either."""
    if a is None or b is None:
        return a or b
    everywhere = lower_rate(a, b)
    return IoMax(
        read_bps=everywhere.read_bps,
        write_bps=everywhere.write_bps,
        disks={d: lower_rate(a.on(d), b.on(d)) for d in sorted({*a.disks, *b.disks})},
    )
