"""Triggers from anyone: ADRG's /trigger body ({"event": "..."}) or the bare word."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    ValidationError,
    model_serializer,
    model_validator,
)

from shared.messages.base import PayloadError, Strict, describe_validation_error

TriggerEvent = Literal[
    "media_start",
    "media_stop",
    "tier3_pause",
    "tier3_resume",
    "schedule_on",
    "schedule_off",
    "schedule_skip",
    "schedule_unskip",
]
# Warden's: each names the schedule it is for ({"event": "schedule_skip", "schedule": "night"}).
SCHEDULE_EVENTS = ("schedule_on", "schedule_off", "schedule_skip", "schedule_unskip")


class Trigger(Strict):
    event: TriggerEvent
    # For the schedule_* events: the schedule's name (config `schedules[].name`).
    schedule: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,40}$")] | None = None

    @model_validator(mode="after")
    def _schedule_where_needed(self) -> Trigger:
        if (self.event in SCHEDULE_EVENTS) != (self.schedule is not None):
            raise ValueError(f"{self.event}: a schedule is named with the schedule_* events only")
        return self

    @model_serializer(mode="wrap")
    def _as_adrg_sends_it(
        self, handler: SerializerFunctionWrapHandler, _info: SerializationInfo
    ) -> dict[str, Any]:
        # ADRG's body is {"event": ...} alone: a trigger that names no schedule says none.
        data: dict[str, Any] = handler(self)
        if data.get("schedule") is None:
            data.pop("schedule", None)
        return data


class TriggerError(PayloadError):
    pass


def parse_trigger(payload: bytes) -> Trigger:
    try:
        text = payload.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise TriggerError("payload is not UTF-8 text") from None
    if text.startswith("{"):
        try:
            return Trigger.model_validate_json(text)
        except ValidationError as exc:
            raise TriggerError(describe_validation_error(exc)) from None
    # Home Assistant's mqtt.publish sends a bare word, sometimes quoted.
    word = text.strip("\"'").lower()
    if word in SCHEDULE_EVENTS:
        raise TriggerError(f'{word} names its schedule: {{"event": "{word}", "schedule": "..."}}')
    try:
        return Trigger(event=word)  # type: ignore[arg-type]
    except ValidationError:
        known = ", ".join(TriggerEvent.__args__)  # type: ignore[attr-defined]
        raise TriggerError(f"unknown trigger {word[:40]!r} (expected one of {known})") from None
