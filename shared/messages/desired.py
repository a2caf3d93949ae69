"""The governor's desired state for one host: declarative, retained, leased."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from shared.messages.base import BlockDevice, Message, Strict
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


class IoRate(Strict):
    read_bps: Bytes | None = None
    write_bps: Bytes | None = None


class IoMax(IoRate):
    """read_bps and write_bps hold on every disk behind the container's data (Docker's root
    and its mounts); `disks` holds limits of their own on the disks it names, whether its
    data is behind them or not (a yield for a stream's disk leaves the container's other
    disks alone), and on those the tighter of the two holds. None: no limit."""

    # A host has a few disks: more than this is no limit anyone asked for.
    disks: Annotated[dict[BlockDevice, IoRate], Field(max_length=64)] = {}

    def __str__(self) -> str:
        """For logs: "r=N w=N" on every disk, then "on 7:0 r=N w=N" per disk named."""
        parts = [f"r={self.read_bps} w={self.write_bps}"] if self.read_bps or self.write_bps else []
        parts += [f"on {d} r={r.read_bps} w={r.write_bps}" for d, r in self.disks.items()]
        return "; ".join(parts) or "none"

    def on(self, disk: str) -> IoRate:
        """The limit that holds on one disk."""
        named = self.disks.get(disk)
        everywhere = IoRate(read_bps=self.read_bps, write_bps=self.write_bps)
        return lower_rate(everywhere, named) if named is not None else everywhere


def lower(x: int | None, y: int | None) -> int | None:
    """The tighter of two limits, where None is no limit."""
    return min(x, y) if x is not None and y is not None else x or y


def lower_rate(a: IoRate, b: IoRate) -> IoRate:
    return IoRate(read_bps=lower(a.read_bps, b.read_bps), write_bps=lower(a.write_bps, b.write_bps))


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

    @property
    def limits(self) -> list[str]:
        """The limiting controls it sets beyond the tier baseline, by name."""
        return [k for k in ("cpu_max", "io_max", "memory_high", "cpu_idle") if getattr(self, k)]


class ProcessGroupIntent(Strict):
    """A configured process group's deviation from its baseline."""

    paused: bool = False
    # The nice level the run-time preset implies; None: the config's.
    nice: Annotated[int, Field(ge=-20, le=19)] | None = None
    reasons: list[Reason] = Field(min_length=1)


class DownloadClientIntent(Strict):
    """The download client's limits while something reserves bandwidth (bytes per second).

    A None limit is the user's own; `alternative`: through the client's alternative speed
    limits (qBittorrent) or turtle mode (Transmission), its global limits left alone."""

    download_bps: Bytes | None = None
    upload_bps: Bytes | None = None
    alternative: bool = False
    reasons: list[Reason] = Field(min_length=1)


class DesiredState(Message):
    seq: Annotated[int, Field(ge=0)]
    # Finite: a lease of Infinity would never run out. The actuator clamps it further.
    lease_seconds: Annotated[float, Field(gt=0, allow_inf_nan=False)]
    media_mode: bool = False
    # Keyed by container name; a managed container not listed runs at its baseline.
    containers: dict[str, ContainerIntent] = {}
    # Keyed by process group name (config process_groups); absent: its baseline.
    process_groups: dict[str, ProcessGroupIntent] = {}
    # The download client's global limit (ADRG's download_throttle, while media mode is
    # on); None: whatever it had before Warden.
    download_limit_bps: Bytes | None = None
    # The download client's limits when `bandwidth` is set (the fixed limit above folded
    # in): where present, it is what the actuator applies; None: as download_limit_bps says.
    download_client: DownloadClientIntent | None = None
    # None: sent by a governor without a signing key, which a keyed actuator refuses.
    signature: Signature | None = None
