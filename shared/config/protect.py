"""Warden's protect rule: throttle bulk work the moment a protected container stalls."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from shared.config.base import Section

_SHARE = Annotated[float, Field(gt=0, le=100)]


class ProtectStall(Section):
    """Per resource: the share of the trigger window a protected container may stall."""

    cpu: _SHARE = Field(
        default=10,
        description="cpu `some` stall of a protected container (% of the PSI window) that counts",
    )
    io: _SHARE = Field(
        default=10,
        description="io `some` stall of a protected container (% of the PSI window) that counts",
    )
    memory: _SHARE = Field(
        default=10,
        description="memory `some` stall of a protected container (% of the PSI window) that "
        "counts",
    )


class Protect(Section):
    """Warden's own rule: throttle bulk work the moment a protected container stalls.

    A protected container is one in tier 0 or 1, or in protected_containers. When
    its own cgroup's some-stall over the PSI trigger window is above its share,
    the tier-3 container (then tier 2) using most of the contended resource gets
    io.max (io stall) or cpu.max (cpu or memory stall), tightened a step each
    window while the stall holds and does not fall, loosened a step after each
    hold_seconds of calm.

    While a protected container is active (or stalls on cpu), every tier-3
    container runs in the idle scheduling class (cpu_yield); while one does I/O (or
    stalls on io), every tier-3 container gets io.max at io_yield_mb_per_sec on the
    disks protected work uses (io_yield).
    """

    enabled: bool = Field(default=True, description="run the protect rule")
    stall_percent: ProtectStall = Field(
        default=ProtectStall(), description="per resource, the stall share that counts"
    )
    step_factor: Annotated[float, Field(gt=0, lt=1)] = Field(
        default=0.25,
        description="each step multiplies the limit by this (a loosening step divides)",
    )
    # A stall that has fired a trigger has lasted a window already.
    first_steps: Annotated[int, Field(ge=1, le=10)] = Field(
        default=2,
        description="the first limit is this many steps at once: use x step_factor ^ first_steps",
    )
    hold_seconds: Annotated[float, Field(gt=0)] = Field(
        default=10, description="calm (no stall above its share) this long loosens one step"
    )
    io_floor_mb_per_sec: Annotated[float, Field(gt=0)] = Field(
        default=1, description="no io.max step goes below this (MiB/s)"
    )
    cpu_floor_percent: Annotated[float, Field(gt=0, le=100)] = Field(
        default=5, description="no cpu.max step goes below this (% of the whole machine)"
    )
    cpu_yield: bool = Field(
        default=True,
        description="while a protected container is active or stalls on cpu, tier 3 runs in "
        "the idle scheduling class (cgroup cpu.idle): full speed on CPU nothing else wants, "
        "none while anything else wakes",
    )
    active_core_percent: Annotated[float, Field(gt=0, le=100)] = Field(
        default=2,
        description="a protected container using this much of one CPU core (%) is active",
    )
    # Yielding costs bulk work nothing while the CPU is free: a long hold only saves flapping
    # with a stream that reads in bursts.
    cpu_yield_hold_seconds: Annotated[float, Field(ge=0)] = Field(
        default=60,
        description="the yield ends this long (seconds) after the last protected activity",
    )
    io_yield: bool = Field(
        default=True,
        description="while a protected container does I/O or stalls on io, tier 3 gets io.max "
        "at io_yield_mb_per_sec on the disks it uses: a bulk job starting beside a stream "
        "starts capped",
    )
    active_io_mb_per_sec: Annotated[float, Field(gt=0)] = Field(
        default=0.5,
        description="a protected container reading and writing this much (MiB/s) does I/O",
    )
    io_yield_mb_per_sec: Annotated[float, Field(gt=0)] = Field(
        default=20,
        description="tier 3's read and write limit each (MiB/s, on each disk protected work "
        "uses) while it yields",
    )
    # A stream reads ahead in bursts: the hold bridges its gaps, so the cap does not flap.
    io_yield_hold_seconds: Annotated[float, Field(ge=0)] = Field(
        default=60,
        description="the io yield ends this long (seconds) after the last protected I/O",
    )
    min_io_mb_per_sec: Annotated[float, Field(ge=0)] = Field(
        default=1, description="a container doing less I/O (MiB/s) is never chosen"
    )
    min_cpu_percent: Annotated[float, Field(ge=0, le=100)] = Field(
        default=5, description="a container using less CPU (% of the whole machine) is never chosen"
    )
    min_memory_growth_mb_per_sec: Annotated[float, Field(ge=0)] = Field(
        default=1, description="a container whose memory grows slower (MiB/s) is never chosen"
    )
