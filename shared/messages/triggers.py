"""Triggers from anyone: ADRG's /trigger body ({"event": "..."}) or the bare word."""

from __future__ import annotations

from typing import Literal

from pydantic import ValidationError

from shared.messages.base import PayloadError, Strict, describe_validation_error

TriggerEvent = Literal["media_start", "media_stop", "tier3_pause", "tier3_resume"]


class Trigger(Strict):
    event: TriggerEvent


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
    try:
        return Trigger(event=word)  # type: ignore[arg-type]
    except ValidationError:
        known = ", ".join(TriggerEvent.__args__)  # type: ignore[attr-defined]
        raise TriggerError(f"unknown trigger {word[:40]!r} (expected one of {known})") from None
