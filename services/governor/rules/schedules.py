"""Schedules: named time windows that say what tiers, containers and process groups may do.

Each schedule's windows (windows.py, beside the policy) are read in the host's time zone.
By its mode:

- `run_inside`: its targets run only inside, and are paused outside;
- `quiet_inside`: inside, its targets are treated as media mode treats them
  (tier 3 paused, tier 2 held back, process groups paused); with no target,
  media mode itself is on;
- `preset_inside`: inside, its process groups (all, if it names none) run on
  its preset.

A schedule switched off (Home Assistant's switch, a `schedule_off` trigger)
does nothing. `schedule_skip` skips the window in force when it arrived, or
else the next one ("skip tonight"); a `skip_schedule` timed override takes its
time out of the windows. Either way the schedule is outside meanwhile, so a
`run_inside` target stays paused and quiet hours do not start.

Everything a reason says (the schedule, what it does, until when) is the same
for the whole window, so a window changes the desired state only where it
begins and ends; the next change is the rule's wake-up and its status.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from datetime import datetime, tzinfo

from services.governor.media_treatment import media_treatment
from services.governor.outcome import LogNote, earliest
from services.governor.rule import Modes, Outcome, Rule, Target, View, merge_intent
from services.governor.windows import (
    Span,
    current_or_next,
    horizon,
    occurrences,
    where,
    without,
)
from shared.config.model import Schedule, WardenConfig
from shared.messages import (
    ContainerIntent,
    ProcessGroupIntent,
    Reason,
    ReasonCard,
    ScheduleStatus,
)
from shared.messages.base import Strict
from shared.messages.overrides import Override
from shared.presets import PresetName

NAME = "schedule"
# What each mode does, in the words of a dashboard's line.
DOES = {
    "run_inside": "runs only inside",
    "quiet_inside": "is quiet inside",
    "preset_inside": "uses preset {preset} inside",
}


class ScheduleMemory(Strict):
    # The schedules inside a window at the last decision: a change is logged once.
    inside: list[str] = []


def when(at: float | None, zone: tzinfo) -> str:
    """For a reason: `Tue 01:00` in the schedule's zone."""
    return "-" if at is None else datetime.fromtimestamp(at, zone).strftime("%a %H:%M")


def iso(at: float | None, zone: tzinfo) -> str | None:
    return None if at is None else datetime.fromtimestamp(at, zone).isoformat(timespec="seconds")


def spans_of(
    schedule: Schedule,
    zone: tzinfo,
    now: float,
    skip_asked_at: float | None,
    overrides: Sequence[Override],
) -> tuple[list[Span], Span | None]:
    """Its windows around now, less a skip and its skip_schedule overrides; and the skipped
    window while its skip holds."""
    spans = occurrences(schedule.windows, zone, now)
    skipped = None
    if skip_asked_at is not None:
        asked = current_or_next(occurrences(schedule.windows, zone, skip_asked_at), skip_asked_at)
        if asked is not None and asked.end > now:
            skipped = Span(max(asked.start, skip_asked_at), asked.end)
            spans = without(spans, skipped)
    for override in overrides:
        if override.kind == "skip_schedule" and override.schedule == schedule.name:
            spans = without(spans, Span(override.since, override.until))
    return spans, skipped


def targets_of(schedule: Schedule, targets: Sequence[Target]) -> list[Target]:
    return [
        (c, tier)
        for c, tier in targets
        if tier in schedule.tiers
        or any(fnmatch.fnmatchcase(c.name, p) for p in schedule.containers)
    ]


def summary(schedule: Schedule) -> str:
    what = [f"tier {t}" for t in schedule.tiers] + schedule.containers + schedule.process_groups
    does = DOES[schedule.mode].format(preset=schedule.preset)
    whom = ", ".join(what) or ("process groups" if schedule.mode == "preset_inside" else "host")
    return f"{whom} {does} {'; '.join(str(w) for w in schedule.windows)}"


class _Effects:
    """What the schedules ask, gathered over all of them."""

    def __init__(self) -> None:
        self.containers: dict[str, ContainerIntent] = {}
        self.groups: dict[str, ProcessGroupIntent] = {}
        self.media: list[Reason] = []
        self.presets: dict[str, tuple[PresetName, Reason]] = {}

    def pause_groups(self, names: Sequence[str], reason: Reason) -> None:
        for name in names:
            ask = ProcessGroupIntent(paused=True, reasons=[reason])
            current = self.groups.get(name)
            self.groups[name] = (
                ask
                if current is None
                else current.model_copy(update={"reasons": [*current.reasons, reason]})
            )

    def ask(self, intents: dict[str, ContainerIntent]) -> None:
        for name, intent in intents.items():
            self.containers[name] = merge_intent(self.containers.get(name), intent)


def _apply(
    effects: _Effects, schedule: Schedule, inside: bool, until: str, view: View, cfg: WardenConfig
) -> None:
    name, mode = schedule.name, schedule.mode
    if mode == "run_inside" and not inside:
        reason = Reason(rule=NAME, detail=f"{name}: runs only inside its windows, next {until}")
        effects.ask(
            {
                c.name: ContainerIntent(tier=tier, paused=True, reasons=[reason])
                for c, tier in targets_of(schedule, view.targets)
            }
        )
        effects.pause_groups(schedule.process_groups, reason)
    elif mode == "quiet_inside" and inside:
        reason = Reason(rule=NAME, detail=f"{name}: quiet hours until {until}")
        if not schedule.targets:
            effects.media.append(reason)
            return
        targets = targets_of(schedule, view.targets)
        effects.ask(media_treatment(cfg.media_mode, targets, view.cpu_count, reason))
        effects.pause_groups(schedule.process_groups, reason)
    elif mode == "preset_inside" and inside and schedule.preset is not None:
        reason = Reason(rule=NAME, detail=f"{name}: preset {schedule.preset} until {until}")
        for group in schedule.process_groups or [g.name for g in cfg.process_groups]:
            effects.presets.setdefault(group, (schedule.preset, reason))


def schedules(view: View, memory: ScheduleMemory) -> Outcome[ScheduleMemory]:
    cfg, zone, now, switches = view.cfg, view.zone, view.now, view.switches
    effects = _Effects()
    status: dict[str, ScheduleStatus] = {}
    inside_now: list[str] = []
    wakes: list[float | None] = []
    for schedule in cfg.schedules:
        name = schedule.name
        enabled = name not in switches.schedules_off
        spans, skipped = spans_of(
            schedule, zone, now, switches.schedule_skips.get(name), view.overrides
        )
        at = where(spans, now, horizon(zone, now))
        inside = enabled and at.inside
        status[name] = ScheduleStatus(
            enabled=enabled,
            inside=inside,
            next_change=iso(at.next_change, zone) if enabled else None,
            skipped_until=iso(skipped.end, zone) if skipped is not None else None,
            summary=summary(schedule),
        )
        if not enabled:
            continue
        wakes.append(at.next_change)
        if inside:
            inside_now.append(name)
        _apply(effects, schedule, inside, when(at.next_change, zone), view, cfg)

    notes = [
        LogNote(
            "schedule.entered" if name in inside_now else "schedule.left",
            "info",
            {"schedule": name},
        )
        for name in sorted(set(inside_now) ^ set(memory.inside))
    ]
    return Outcome(
        ScheduleMemory(inside=inside_now),
        containers=effects.containers,
        process_groups=effects.groups,
        notes=notes,
        wake_at=earliest(*wakes),
        status={"schedules": {n: s.model_dump() for n, s in status.items()}},
        modes=Modes(media=tuple(effects.media), presets=effects.presets),
    )


# How a schedule's reason ends, by its mode.
ENDS = {
    "run_inside": "when its next window begins",
    "quiet_inside": "when its window ends",
    "preset_inside": "when its window ends",
}


def cards(cfg: WardenConfig) -> list[ReasonCard]:
    return [
        ReasonCard(
            reason=NAME,
            rule="schedules",
            title="a schedule's window: its targets paused, quiet, or on a preset",
            controls={"any": ["paused", "cpu_max", "io_max", "group_paused", "group_nice"]},
            ends="when the schedule's window begins or ends, a schedule_skip or schedule_off",
            ends_by_detail={
                f"{s.name}: ": f"{ENDS[s.mode]} (or a schedule_skip or schedule_off)"
                for s in cfg.schedules
            },
            enabled=bool(cfg.schedules),
        )
    ]


RULE = Rule("schedules", ScheduleMemory, schedules, cards)
