"""The governor's desired state for one host: declarative, retained, leased."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from shared.messages.base import Message, Strict
from shared.messages.signature import Signature
from shared.presets import PresetName

Bytes = Annotated[int, Field(gt=0)]


class Reason(Strict):
    """Why an entry deviates from the baseline: the rule, and the reading that tripped it."""

    rule: str
    metric: str | None = None
    value: float | None = None
    threshold: float | None = None
    detail: str = ""

    def __str__(self) -> str:
        if self.metric is None:
            return f"{self.rule}({self.detail})" if self.detail else self.rule
        if self.value is None:
            # An enforced reason: the rule and its threshold, stable while the reading moves.
            limit = f" > {self.threshold:g}" if self.threshold is not None else ""
            extra = f", {self.detail}" if self.detail else ""
            return f"{self.rule}({self.metric}{limit}{extra})"
        return f"{self.rule}({self.metric}={self.value} > {self.threshold})"


class CpuMax(Strict):
    quota_us: Annotated[int, Field(gt=0)]
    period_us: Annotated[int, Field(ge=1000, le=1_000_000)] = 100_000


class IoMax(Strict):
    read_bps: Bytes | None = None
    write_bps: Bytes | None = None


class ContainerIntent(Strict):
    """One container's deviation from its tier baseline. None fields mean "baseline"."""

    tier: Annotated[int, Field(ge=1, le=3)]
    paused: bool = False
    memory_high: Bytes | None = None
    cpu_max: CpuMax | None = None
    io_max: IoMax | None = None
    reasons: list[Reason] = Field(min_length=1)


class ProcessGroupIntent(Strict):
    """A configured process group's deviation from its baseline."""

    paused: bool = False
    # The nice level the run-time preset implies; None: the config's.
    nice: Annotated[int, Field(ge=-20, le=19)] | None = None
    reasons: list[Reason] = Field(min_length=1)


class ProcessGroupMemory(Strict):
    """A process group's pause state, and since when its trigger or its calm has held."""

    paused: bool = False
    # Wall-clock start of an unbroken run of over-threshold readings (while running).
    trigger_since: float | None = None
    # Wall-clock start of an unbroken run of readings under the resume level (while paused).
    calm_since: float | None = None
    # The readings that paused it: while any of them is unknown, it stays paused.
    tripped: list[str] = []


ProtectResource = Literal["cpu", "io", "memory"]


class ProtectThrottle(Strict):
    """One container's limit from the protect rule: bytes/s (io) or % of the machine (cpu)."""

    limit: Annotated[float, Field(gt=0)]
    steps: Annotated[int, Field(ge=1)]


class ProtectMemory(Strict):
    """The protect rule's state for one contended resource."""

    # Wall-clock time of the latest reading in which a protected container stalled.
    stalled_at: float | None = None
    # Wall-clock time of the latest step (tightening or loosening).
    stepped_at: float | None = None
    # The stall share of the latest stalled reading, to tell a falling stall.
    share: float | None = None
    # Wall-clock arrival of the reading last looked at: one reading, at most one step.
    reading_at: float | None = None
    throttles: dict[str, ProtectThrottle] = {}


class GovernorMemory(Strict):
    """What the governor must remember across its own restart, kept in the retained state."""

    media_forced: bool = False
    tier3_manual_pause: bool = False
    media_active: bool = False
    # Wall-clock start of the media-mode cooldown, if one is running.
    media_cooldown_since: float | None = None
    # Lowest memory.high applied per container while squeezing (ADRG only ratchets down).
    squeeze_floor: dict[str, Bytes] = {}
    # The process-group preset chosen at run time (warden/<host>/preset/set); None: config's.
    preset: PresetName | None = None
    process_groups: dict[str, ProcessGroupMemory] = {}
    # Thermal stage (0-2); it only goes down after a hold below recovery_temp_c.
    thermal_stage: Annotated[int, Field(ge=0, le=2)] = 0
    # Wall-clock start of the hold below recovery_temp_c, if one is running.
    thermal_recovery_since: float | None = None
    # The warn band was entered and logged; cleared once below warn_temp_c.
    thermal_warned: bool = False
    io_throttled: bool = False
    # Wall-clock start of the hold below recovery_avg10_threshold, if one is running.
    io_recovery_since: float | None = None
    # Container name -> wall-clock time of the last restart asked for (within the cooldown).
    restarted_at: dict[str, float] = {}
    # Warden's protect rule, per contended resource.
    protect: dict[ProtectResource, ProtectMemory] = {}


class DesiredState(Message):
    seq: Annotated[int, Field(ge=0)]
    lease_seconds: Annotated[float, Field(gt=0)]
    media_mode: bool = False
    # Keyed by container name; a managed container not listed runs at its baseline.
    containers: dict[str, ContainerIntent] = {}
    # Keyed by process group name (config process_groups); absent: its baseline.
    process_groups: dict[str, ProcessGroupIntent] = {}
    # The download client's global limit; None: whatever it had before Warden.
    download_limit_bps: Bytes | None = None
    governor: GovernorMemory = GovernorMemory()
    # None: sent by a governor without a signing key, which a keyed actuator refuses.
    signature: Signature | None = None
