"""Warden's governor: how long its desired state holds, and when facts are too old."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from shared.config.base import Section
from shared.config.media_mode import MediaMode


class Governor(Section):
    lease_seconds: Annotated[float, Field(ge=2)] = Field(
        default=30,
        description="a desired state holds this long unrenewed; then the actuator restores "
        "the baseline",
    )
    renew_seconds: Annotated[float, Field(gt=0)] | None = Field(
        default=None,
        description="how often the governor renews its desired state; none: a third of the lease",
    )
    stale_after_seconds: Annotated[float, Field(gt=0)] | None = Field(
        default=None,
        description="an older fact counts as unknown; none: 3 x `media_mode.poll_seconds` "
        "(streams), 3 x `sensors.heartbeat_seconds` (the rest)",
    )

    timezone: str | None = Field(
        default=None,
        description="the IANA zone schedules are read in (`Europe/Berlin`); none: the host's "
        "(`TZ`, else /etc/localtime)",
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"{value!r} is not a time zone this host knows") from None
        return value

    @model_validator(mode="after")
    def _renew_inside_lease(self) -> Governor:
        if self.renew_seconds is not None and self.renew_seconds >= self.lease_seconds:
            raise ValueError("renew_seconds must be shorter than lease_seconds")
        return self

    @property
    def renew_interval(self) -> float:
        return self.renew_seconds or self.lease_seconds / 3

    def streams_stale_after(self, media_mode: MediaMode) -> float:
        return self.stale_after_seconds or 3 * media_mode.poll_seconds
