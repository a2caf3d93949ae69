"""What protected work stalls on, and the disks it uses, read from the pressure and
resources facts: shared by protect and the yields. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from shared.config.model import Protect
from shared.messages import ContainerUsage, IoMax, IoRate, PressureFact
from shared.tier_matcher import TierMatcher

Resource = Literal["cpu", "io", "memory"]


@dataclass(frozen=True)
class Stall:
    """One resource over the protected containers: "stalled", "calm" or "unknown"."""

    state: Literal["stalled", "calm", "unknown"]
    # Highest known share among the stalled ones (None: only a trigger said so).
    share: float | None = None
    who: tuple[str, ...] = ()


def stall_of(
    cfg: Protect, matcher: TierMatcher, pressure: PressureFact | None, resource: str
) -> Stall:
    if pressure is None:
        return Stall("unknown")
    threshold = getattr(cfg.stall_percent, resource)
    stalled: list[tuple[str, float | None]] = []
    unknown = False
    for c in pressure.containers:
        if not matcher.watched(c.name):
            continue
        fired = any(f.scope == c.id and f.resource == resource for f in pressure.fired)
        share = next((s.some_percent for s in c.stall if s.resource == resource), None)
        if fired or (share is not None and share > threshold):
            stalled.append((c.name, share))
        elif share is None:
            unknown = True
    if stalled:
        shares = [s for _, s in stalled if s is not None]
        return Stall("stalled", max(shares) if shares else None, tuple(n for n, _ in stalled))
    return Stall("unknown" if unknown else "calm")


def highest_share(matcher: TierMatcher, pressure: PressureFact, resource: str) -> float | None:
    """The highest known stall share on a resource among the protected containers, calm or
    not (None: none is known), for an incident's timeline."""
    shares = [
        s.some_percent
        for c in pressure.containers
        if matcher.watched(c.name)
        for s in c.stall
        if s.resource == resource
    ]
    return max(shares, default=None)


def use_of(resource: str, usage: ContainerUsage, disks: frozenset[str] | None) -> float | None:
    """What a container uses of a resource now; io: on these disks (None: on all), where
    its own disks are known; memory: how fast it grows (0 while it shrinks)."""
    if resource == "io":
        by_disk = usage.io_bytes_per_second_by_disk
        if disks is None or by_disk is None:
            return usage.io_bytes_per_second
        return sum(by_disk.get(d, 0.0) for d in disks)
    if resource == "cpu":
        return usage.cpu_percent
    growth = usage.memory_growth_bytes_per_second
    return max(0.0, growth) if growth is not None else None


def disks_used(usages: Sequence[ContainerUsage]) -> frozenset[str] | None:
    """The disks these containers read or wrote in the last reading; None (every disk) where
    that is not known for one of them, or none is named."""
    disks: set[str] = set()
    for u in usages:
        if u.io_bytes_per_second_by_disk is None:
            return None
        disks.update(u.io_bytes_per_second_by_disk)
    return frozenset(disks) or None


def union(a: Iterable[str] | None, b: Iterable[str] | None) -> list[str] | None:
    """Two sets of disks, where None is every disk."""
    return None if a is None or b is None else sorted({*a, *b})


def io_limit(bps: int, disks: Iterable[str] | None) -> IoMax:
    """bps each way on these disks, or on every disk behind the container's data."""
    if disks is None:
        return IoMax(read_bps=bps, write_bps=bps)
    return IoMax(disks={d: IoRate(read_bps=bps, write_bps=bps) for d in sorted(disks)})
