"""ADRG's tiers: which containers belong where, and each tier's cgroup baseline."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from shared.config.base import Section, Size

TierNumber = Annotated[int, Field(ge=0, le=3)]


class Tier(Section):
    ADRG_KEYS = frozenset(
        {"name", "containers", "cpu_weight", "io_weight", "memory_high", "memory_max"}
    )

    name: str = Field(default="", description="the tier's label (`--check-config` shows it)")
    containers: list[str] = Field(
        default=[],
        description="container names or globs in this tier; an exact name wins over a glob",
    )
    cpu_weight: Annotated[int, Field(ge=1, le=10000)] = Field(
        default=100,
        description="cgroup `cpu.weight` of the tier's containers (100: the kernel's default)",
    )
    io_weight: Annotated[int, Field(ge=1, le=10000)] = Field(
        default=100,
        description="cgroup `io.weight` of the tier's containers (100: the kernel's default)",
    )
    memory_high: Size | None = Field(
        default=None, description="cgroup `memory.high` (`1.5G`, `512M`, bytes); none: unlimited"
    )
    memory_max: Size | None = Field(
        default=None,
        description="cgroup `memory.max`; none: the container's own Docker memory limit stays",
    )

    @model_validator(mode="after")
    def _high_not_above_max(self) -> Tier:
        if self.memory_high and self.memory_max and self.memory_high > self.memory_max:
            raise ValueError("memory_high must not be larger than memory_max")
        return self
