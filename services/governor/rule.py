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
from dataclasses import dataclass, field, replace
from datetime import UTC, tzinfo
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from services.governor.outcome import EventDraft, LogNote, RestartDraft
from shared.config.model import WardenConfig
from shared.messages import (
    ContainerFact,
    ContainerIntent,
    CpuMax,
    DownloadClientIntent,
    GpuFact,
    IoMax,
    PressureFact,
    ProcessesFact,
    ProcessGroupIntent,
    ReasonCard,
    ResourcesFact,
    StreamSession,
    StreamsFact,
    Switches,
    ThermalFact,
)
from shared.messages.base import Strict
from shared.messages.desired import Reason, lower, lower_rate
from shared.messages.overrides import Override
from shared.presets import PresetName
from shared.tier_matcher import TierMatcher

M = TypeVar("M", bound=BaseModel)
# A live, unprotected container in tiers 1-3, and its tier: the only ones a rule may target.
Target = tuple[ContainerFact, int]
StatusValue = bool | int | float | Mapping[str, Any]


@dataclass(frozen=True)
class Modes:
    """What a rule sets for the rules after it in RULES, while it holds (schedules and
    conditions do): media mode on, a process group's preset, a container protected. Each
    with the reason that sets it; the first rule (and, within one, the first entry) wins."""

    media: tuple[Reason, ...] = ()
    # Process group name -> its preset, and why.
    presets: Mapping[str, tuple[PresetName, Reason]] = field(default_factory=dict)
    # Container name -> why no rule after this one may limit it.
    protected: Mapping[str, Reason] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.media or self.presets or self.protected)

    def plus(self, other: Modes) -> Modes:
        return Modes(
            media=(*self.media, *(r for r in other.media if r not in self.media)),
            presets={**other.presets, **self.presets},
            protected={**other.protected, **self.protected},
        )


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
    # The media server's report (its sessions), fresh as `streams` is; None: unknown.
    stream_report: StreamsFact | None = None
    # Every container the inventory lists, any tier; None: no inventory.
    containers: tuple[ContainerFact, ...] | None = None
    # The host processes the conditions watch; None: unknown.
    processes: ProcessesFact | None = None
    # MQTT topic -> the text last received there (the topics conditions watch).
    topic_values: Mapping[str, str] = field(default_factory=dict)
    # The zone schedules are read in.
    zone: tzinfo = UTC
    # Timed overrides, live or not (a schedule's skip is one).
    overrides: tuple[Override, ...] = ()
    # What the rules before this one set (see Modes).
    modes: Modes = field(default_factory=Modes)

    @property
    def sessions(self) -> tuple[StreamSession, ...] | None:
        """The streams' sessions, as the sensors last reported them; None: unknown."""
        report = self.stream_report
        return tuple(report.sessions) if report is not None and report.count is not None else None

    def tier(self, tier: int) -> list[ContainerFact]:
        return [c for c, t in self.targets if t == tier]

    def with_modes(self, modes: Modes) -> View:
        """The view the rules after a mode-setting rule see: its containers protected are no
        one's targets any more."""
        if not modes:
            return self
        together = self.modes.plus(modes)
        protected = set(together.protected)
        return replace(
            self,
            modes=together,
            matcher=self.matcher.with_protected(protected),
            targets=tuple(t for t in self.targets if t[0].name not in protected),
        )


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
    # The download client's limits (stream-aware bandwidth); None: asks nothing of it.
    download_client: DownloadClientIntent | None = None
    # What this rule sets for the rules after it (see Modes).
    modes: Modes = field(default_factory=Modes)


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
    """Two rules' asks of one process group: paused while either pauses, the first's nice
    where it sets one, both rules' reasons."""
    if current is None:
        return ask
    return current.model_copy(
        update={
            "paused": current.paused or ask.paused,
            "nice": current.nice if current.nice is not None else ask.nice,
            "reasons": [*current.reasons, *(r for r in ask.reasons if r not in current.reasons)],
        }
    )


def merge_download(
    current: DownloadClientIntent | None, ask: DownloadClientIntent
) -> DownloadClientIntent:
    """Two rules' asks of the download client: the tighter of each limit, both reasons."""
    if current is None:
        return ask
    return current.model_copy(
        update={
            "download_bps": lower(current.download_bps, ask.download_bps),
            "upload_bps": lower(current.upload_bps, ask.upload_bps),
            "alternative": current.alternative or ask.alternative,
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
