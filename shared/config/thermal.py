"""ADRG's thermal rule: pause bulk work as the hottest sensor warms up."""

from __future__ import annotations

from pydantic import Field, model_validator

from shared.config.base import Seconds, Section


class Thermal(Section):
    ADRG_KEYS = frozenset(
        {
            "enabled",
            "warn_temp_c",
            "stage1_temp_c",
            "stage2_temp_c",
            "recovery_temp_c",
            "recovery_hold_seconds",
        }
    )

    enabled: bool = Field(default=True, description="run the thermal rule")
    warn_temp_c: float = Field(
        default=70,
        description="°C of the hottest sensor that sends a `thermal_warning` (no action)",
    )
    stage1_temp_c: float = Field(default=75, description="°C at which tier 3 is paused")
    stage2_temp_c: float = Field(default=80, description="°C at which tier 2 is paused too")
    recovery_temp_c: float = Field(
        default=65, description="°C the hottest sensor must stay below to resume what was paused"
    )
    recovery_hold_seconds: Seconds = Field(
        default=30, description="seconds below `recovery_temp_c` before the paused tiers resume"
    )

    @model_validator(mode="after")
    def _ordered(self) -> Thermal:
        if not self.recovery_temp_c < self.stage1_temp_c <= self.stage2_temp_c:
            raise ValueError("expected recovery_temp_c < stage1_temp_c <= stage2_temp_c")
        return self
