"""ADRG's pressure rules, from Linux PSI: memory (squeeze, restart) and I/O (io.max)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from shared.config.base import Percent, Seconds, Section


class MemoryPressure(Section):
    ADRG_KEYS = frozenset(
        {
            "enabled",
            "some_avg10_threshold",
            "critical_avg60_threshold",
            "emergency_full_avg10_threshold",
            "restart_cooldown_seconds",
            "memory_high_reduction_factor",
        }
    )

    enabled: bool = Field(default=True, description="run the memory squeeze and restart rules")
    some_avg10_threshold: Percent = Field(
        default=50,
        description="host memory PSI `some` avg10 (%) above which tier 3's memory.high shrinks",
    )
    critical_avg60_threshold: Percent = Field(
        default=40,
        description="memory PSI `some` avg60 (%) above which the largest tier 3 container restarts",
    )
    emergency_full_avg10_threshold: Percent = Field(
        default=25,
        description="memory PSI `full` avg10 (%) above which the largest tier 3 container, "
        "else tier 2's, restarts",
    )
    restart_cooldown_seconds: Seconds = Field(
        default=300,
        description="seconds between two restarts (per container and on the whole host)",
    )
    memory_high_reduction_factor: Annotated[float, Field(gt=0, le=1)] = Field(
        default=0.75, description="a squeeze sets memory.high to this share of the container's RSS"
    )


class IoPressure(Section):
    ADRG_KEYS = frozenset(
        {
            "enabled",
            "trigger_avg10_threshold",
            "recovery_avg10_threshold",
            "recovery_hold_seconds",
            "tier3_io_max_read_mb_per_sec",
            "tier3_io_max_write_mb_per_sec",
        }
    )

    enabled: bool = Field(default=True, description="run the I/O pressure rule")
    trigger_avg10_threshold: Percent = Field(
        default=60, description="host I/O PSI `some` avg10 (%) above which tier 3 gets io.max"
    )
    recovery_avg10_threshold: Percent = Field(
        default=20, description="I/O PSI `some` avg10 (%) to stay below before io.max is lifted"
    )
    recovery_hold_seconds: Seconds = Field(
        default=30, description="seconds below `recovery_avg10_threshold` before io.max is lifted"
    )
    tier3_io_max_read_mb_per_sec: Annotated[float, Field(gt=0)] = Field(
        default=5, description="tier 3's read limit (MiB/s per device) while throttled"
    )
    tier3_io_max_write_mb_per_sec: Annotated[float, Field(gt=0)] = Field(
        default=2, description="tier 3's write limit (MiB/s per device) while throttled"
    )

    @model_validator(mode="after")
    def _recovery_below_trigger(self) -> IoPressure:
        if self.recovery_avg10_threshold >= self.trigger_avg10_threshold:
            raise ValueError("recovery_avg10_threshold must be below trigger_avg10_threshold")
        return self
