"""Timed overrides from the web service: carried out by the governor until they expire."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import Field, model_validator

from shared.messages.base import Message, Strict

OverrideKind = Literal["pause_tier3", "unthrottle", "skip_schedule"]


class Override(Strict):
    id: str = Field(default_factory=lambda: uuid.uuid4().hex[:12], min_length=4, max_length=64)
    # pause_tier3: every tier-3 container paused; unthrottle: `container` runs at its tier
    # baseline (whatever else asks), except for thermal stages, which protect the hardware;
    # skip_schedule: `schedule` is outside its windows while the override lasts.
    kind: OverrideKind
    container: Annotated[str, Field(min_length=1, max_length=255)] | None = None
    schedule: Annotated[str, Field(min_length=1, max_length=40)] | None = None
    # Wall-clock seconds: the same on every host that shares the broker, near enough.
    since: float
    until: float

    @model_validator(mode="after")
    def _container_for_unthrottle(self) -> Override:
        if (self.kind == "unthrottle") != (self.container is not None):
            raise ValueError("unthrottle needs a container; the other kinds take none")
        if (self.kind == "skip_schedule") != (self.schedule is not None):
            raise ValueError("skip_schedule needs a schedule; the other kinds take none")
        if self.until <= self.since:
            raise ValueError("until must be after since")
        return self


class Overrides(Message):
    """Retained: every override in force (expired ones may linger; they do nothing)."""

    items: Annotated[list[Override], Field(max_length=100)] = []
