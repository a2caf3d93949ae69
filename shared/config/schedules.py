"""Warden's schedules: named time windows that say what a tier, container or group may do."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, StringConstraints, field_validator, model_validator

from shared.config.base import Section, lower
from shared.presets import AnyCasePreset

Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DAYS: tuple[Day, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# A schedule or condition name: one topic level, a Home Assistant object id, a JSON string.
Name = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,40}$")]
ScheduleMode = Literal["run_inside", "quiet_inside", "preset_inside"]
Tier = Literal[1, 2, 3]
_HHMM = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")


def hhmm(value: str) -> tuple[int, int]:
    hours, minutes = value.split(":")
    return int(hours), int(minutes)


def _day_list(value: object) -> object:
    """`days: weekdays` or `weekends` or one day, as a list; any case."""
    named = {"weekdays": list(DAYS[:5]), "weekends": list(DAYS[5:]), "every day": list(DAYS)}
    if isinstance(value, str):
        return named.get(value.lower(), [value.lower()])
    if isinstance(value, list):
        return [lower(v) for v in value]
    return value


class Window(Section):
    """One window: on these days, from start to end in the host's time zone."""

    days: Annotated[list[Day], BeforeValidator(_day_list), Field(min_length=1)] = Field(
        default=list(DAYS),
        description="the days it starts on (`mon` ... `sun`, `weekdays`, `weekends`); a window "
        "crossing midnight ends the next day",
    )
    start: str = Field(description="`HH:MM`, the host's local time")
    end: str = Field(
        description="`HH:MM` (or `24:00`); before start: the next day; equal to start: 24 hours"
    )

    @field_validator("start")
    @classmethod
    def _start_is_a_time(cls, value: str) -> str:
        if not _HHMM.match(value):
            raise ValueError(f"{value!r} is not a time of day HH:MM (00:00 to 23:59)")
        return value

    @field_validator("end")
    @classmethod
    def _end_is_a_time(cls, value: str) -> str:
        if value != "24:00" and not _HHMM.match(value):
            raise ValueError(f"{value!r} is not a time of day HH:MM (00:00 to 24:00)")
        return value

    def __str__(self) -> str:
        days = ",".join(self.days) if list(self.days) != list(DAYS) else "daily"
        return f"{days} {self.start}-{self.end}"


class Schedule(Section):
    """Named windows, and what their targets may do inside and outside them."""

    name: Name = Field(description="the schedule's name (letters, digits, `_`, `-`), unique")
    windows: Annotated[list[Window], Field(min_length=1, max_length=50)] = Field(
        description="when the schedule is inside; several may overlap"
    )
    mode: Annotated[ScheduleMode, BeforeValidator(lower)] = Field(
        description="`run_inside`: the targets run only inside, paused outside; "
        "`quiet_inside`: inside, the targets are treated as in media mode (no target: media "
        "mode itself is on); `preset_inside`: inside, the process groups run on `preset`"
    )
    preset: AnyCasePreset | None = Field(
        default=None, description="the preset inside the windows (`preset_inside` only)"
    )
    tiers: list[Tier] = Field(default=[], description="tiers (1-3) it applies to")
    containers: list[str] = Field(
        default=[], description="containers (names or globs; tiers 1-3 only) it applies to"
    )
    process_groups: list[str] = Field(
        default=[],
        description="process groups (by name) it applies to; `preset_inside` with none: all",
    )

    @model_validator(mode="after")
    def _mode_fits_targets(self) -> Schedule:
        if (self.mode == "preset_inside") != (self.preset is not None):
            raise ValueError("preset is needed with mode preset_inside, and only there")
        if self.mode == "preset_inside" and (self.tiers or self.containers):
            raise ValueError("preset_inside sets process groups' preset: name no tier or container")
        if self.mode == "run_inside" and not self.targets:
            raise ValueError("run_inside needs a target: tiers, containers or process_groups")
        return self

    @property
    def targets(self) -> bool:
        return bool(self.tiers or self.containers or self.process_groups)
