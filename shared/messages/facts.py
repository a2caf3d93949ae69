"""Facts the sensors publish: pressure and the container inventory."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from shared.messages.base import Message, Strict

NonNegative = Annotated[float, Field(ge=0)]


class PressureLine(Strict):
    avg10: Annotated[float, Field(ge=0, le=100)]
    avg60: Annotated[float, Field(ge=0, le=100)]
    avg300: Annotated[float, Field(ge=0, le=100)]
    total: Annotated[int, Field(ge=0)]


class ResourcePressure(Strict):
    some: PressureLine
    # The kernel reports no "full" line for cpu before 5.13 (and zeros at root).
    full: PressureLine | None = None


class PressureFact(Message):
    """System-wide PSI. A resource the host cannot report is None: unknown, not zero."""

    source: str = "/proc/pressure"
    cpu: ResourcePressure | None = None
    memory: ResourcePressure | None = None
    io: ResourcePressure | None = None


ContainerState = Literal["created", "running", "paused", "restarting", "removing", "exited", "dead"]


class ContainerFact(Strict):
    id: str
    name: str
    state: ContainerState
    # None: not in any tier of the config, so Warden leaves it alone.
    tier: Annotated[int, Field(ge=0, le=3)] | None
    protected: bool = False
    # None: unknown (not running, or its cgroup could not be read).
    rss_bytes: Annotated[int, Field(ge=0)] | None = None


class ContainerInventory(Message):
    source: str = "docker"
    # CPUs of the host, so throttles given as "% of the machine" can be computed.
    cpu_count: Annotated[int, Field(ge=1)]
    containers: list[ContainerFact]
