"""What a rule may limit in a container's intent, as keyword arguments a test spreads in."""

from __future__ import annotations

from typing import TypedDict

from shared.messages import CpuMax, IoMax


class Limits(TypedDict, total=False):
    """Each field of ContainerIntent's own type."""

    memory_high: int | None
    cpu_max: CpuMax | None
    io_max: IoMax | None
    cpu_idle: bool
