"""What the actuator actually applied, and what it refused and why."""

from __future__ import annotations

from typing import Literal

from shared.messages.base import Message, Strict
from shared.messages.desired import CpuMax, IoMax


class AppliedContainer(Strict):
    name: str
    id: str
    tier: int
    paused: bool
    cpu_weight: int
    io_weight: int
    memory_high: int | None
    memory_max: int | None
    cpu_max: CpuMax | None = None
    io_max: IoMax | None = None
    cpu_idle: bool = False
    reasons: list[str] = []

    @property
    def throttled(self) -> bool:
        """A cpu, io or memory limit beyond the tier baseline applied (a memory.high with
        no reason is the tier's own)."""
        return (
            self.cpu_max is not None
            or self.io_max is not None
            or (self.memory_high is not None and bool(self.reasons))
        )


class Refusal(Strict):
    target: str
    reason: str


class Applied(Message):
    # "desired": reconciled to the governor's state seq; "baseline": to tier baselines.
    mode: Literal["desired", "baseline"]
    seq: int | None = None
    baseline_reason: str | None = None
    dry_run: bool = False
    containers: list[AppliedContainer] = []
    refusals: list[Refusal] = []
    errors: list[Refusal] = []
    # Controls this host cannot apply (a missing controller), named once here.
    unsupported: list[str] = []
