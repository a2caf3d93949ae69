"""Warden's signing of what the governor asks the actuator to do."""

from __future__ import annotations

from pydantic import Field

from shared.config.base import Section


class Security(Section):
    signing_key_file: str | None = Field(
        default=None,
        description="key the governor signs desired states and actions with, the actuator "
        "refusing the unsigned; `$WARDEN_SIGNING_KEY_FILE` wins; none: unsigned",
    )
