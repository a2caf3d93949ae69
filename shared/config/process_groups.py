"""Warden's process groups: bare processes handled together (Optimizarr-style)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from shared.config.base import Percent, Regex, Seconds, Section
from shared.presets import DEFAULT_PRESET, PRESETS, AnyCasePreset


class ProcessGroup(Section):
    """Bare processes handled together (Optimizarr-style), matched by name or command line."""

    name: Annotated[str, Field(min_length=1)] = Field(
        description="the group's name (unique), as logs, facts and decisions name it"
    )
    match_name: list[str] = Field(
        default=[], description="globs against the process name (comm) or the basename of argv[0]"
    )
    match_cmdline: list[Regex] = Field(
        default=[],
        description="regular expressions searched in the command line, arguments joined by spaces",
    )
    include_children: bool = Field(
        default=True,
        description="every descendant of a matched process belongs to the group too (an "
        "encoder wrapper's workers): paused, re-niced and restored with it",
    )
    # Applied to every member while Warden runs (Optimizarr's nice level and affinity).
    nice: Annotated[int, Field(ge=-20, le=19)] | None = Field(
        default=None, description="nice level of every member; none: the preset's"
    )
    ionice_class: Literal["realtime", "best-effort", "idle"] | None = Field(
        default=None, description="I/O scheduling class of every member; none: the process's own"
    )
    ionice_level: Annotated[int, Field(ge=0, le=7)] = Field(
        default=4, description="I/O priority within `ionice_class` (0 highest)"
    )
    cpu_affinity: list[Annotated[int, Field(ge=0)]] | None = Field(
        default=None, description="CPUs the members may run on; none: the process's own"
    )
    pause_with: Literal["signal", "freeze"] = Field(
        default="signal",
        description="how a pause stops the members: SIGSTOP/SIGCONT, or cgroup.freeze (of "
        "their own cgroup, else of one of Warden's they are moved into while paused)",
    )
    # Optimizarr's thresholds are against the use of everything else on the host, never the
    # group's own: an encoder pegs a CPU or GPU by design.
    preset: AnyCasePreset | None = Field(
        default=None,
        description="the thresholds and nice level by name, "
        + ", ".join(
            f"{name} ({p.cpu_threshold_percent:g} / {p.memory_threshold_percent:g} / "
            f"{p.gpu_threshold_percent:g}, nice {p.nice})"
            for name, p in PRESETS.items()
        )
        + f"; the run-time preset wins; none: {DEFAULT_PRESET}",
    )
    cpu_threshold_percent: Percent | None = Field(
        default=None,
        description="pause when the CPU use of everything else goes above this; none: preset's",
    )
    memory_threshold_percent: Percent | None = Field(
        default=None,
        description="pause when the memory use of everything else goes above this; none: preset's",
    )
    gpu_threshold_percent: Percent | None = Field(
        default=None,
        description="pause when the GPU use of everything else goes above this; none: preset's",
    )
    cpu_temp_c: float | None = Field(
        default=None,
        description="pause above this CPU °C (hottest sensor); none: `thermal.warn_temp_c` "
        "while thermal is enabled",
    )
    gpu_temp_c: float | None = Field(
        default=None,
        description="pause above this GPU °C; none: `thermal.warn_temp_c` while thermal is enabled",
    )
    pressure_some_avg10: Percent | None = Field(
        default=None,
        description="pause above this host memory PSI `some` avg10; none: "
        "`memory_pressure.some_avg10_threshold` while enabled",
    )
    resume_margin_percent: Annotated[float, Field(ge=0, lt=100)] = Field(
        default=10,
        description="resume only when every reading is this many percent below its threshold",
    )
    pause_hold_seconds: Seconds = Field(
        default=5, description="a trigger must hold this long before a pause"
    )
    resume_hold_seconds: Seconds = Field(
        default=30, description="calm must hold this long before a resume"
    )

    @model_validator(mode="after")
    def _matches_something(self) -> ProcessGroup:
        if not self.match_name and not self.match_cmdline:
            raise ValueError("needs match_name or match_cmdline")
        return self
