"""The governor's desired state for one host: declarative, retained, leased."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from shared.messages.base import Message, Strict
from shared.messages.signature import Signature

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
    # Idle scheduling class (cgroup cpu.idle): runs on CPU nobody else wants, at full speed.
    cpu_idle: bool = False
    reasons: list[Reason] = Field(min_length=1)


class ProcessGroupIntent(Strict):
    """A configured process group's deviation from its baseline."""

    paused: bool = False
    # The nice level the run-time preset implies; None: the config's.
    nice: Annotated[int, Field(ge=-20, le=19)] | None = None
    reasons: list[Reason] = Field(min_length=1)


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
    # None: sent by a governor without a signing key, which a keyed actuator refuses.
    signature: Signature | None = None
