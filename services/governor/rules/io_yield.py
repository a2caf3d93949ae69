"""I/O yield (part of Warden's protect, beside ADRG's rules): bulk work gives way on the disk
while protected work uses it.

A bulk writer at full speed hurts a stream before any stall can be seen: on the
test machine a hog wrote 1.1 GiB/s, and what it freed in the quarter second
before a limit could land was discarded at the next journal commit, stalling
every writer for the seconds after, a limit or not. So while any protected
container does I/O (at least protect.active_io_mb_per_sec, read and written) or
stalls on io, every tier-3 container gets io.max at io_yield_mb_per_sec each
way (when it starts and ends: yielding.py): a job that starts then starts
capped. The cap holds on the disks the protected containers use (as their io
counters name them), so bulk work on another disk keeps its speed; where those
are not known (no per-disk counters, or a stall with no I/O to tell), on every
disk behind the container's data. Unlike cpu.idle, a cap costs bulk work
throughput on those disks while the stream plays, contended or not; the stream
idle, bulk work has the whole disk again io_yield_hold_seconds later. Protect's
own io.max steps, and ADRG's io rule, still act below the cap: on each disk, the
tighter limit wins.

Tier 2 keeps its disk (ADRG's media mode caps it while streams play).
"""

from __future__ import annotations

from services.governor.stalls import disks_used, io_limit
from services.governor.yielding import YieldSpec, yield_rule
from shared.config.model import Protect
from shared.messages import ContainerIntent, ContainerUsage, Reason
from shared.units import MB_PER_SEC

NAME = "io_yield"


def io_mb_per_sec(u: ContainerUsage, _cpu_count: int) -> float | None:
    return None if u.io_bytes_per_second is None else u.io_bytes_per_second / MB_PER_SEC


def capped(cfg: Protect, reason: Reason, disks: list[str] | None) -> ContainerIntent:
    bps = max(1, int(cfg.io_yield_mb_per_sec * MB_PER_SEC))
    return ContainerIntent(tier=3, io_max=io_limit(bps, disks), reasons=[reason])


SPEC = YieldSpec(
    name=NAME,
    resource="io",
    metric="io_mb_per_sec",
    use=io_mb_per_sec,
    threshold=lambda cfg: cfg.active_io_mb_per_sec,
    enabled=lambda cfg: cfg.io_yield,
    hold_seconds=lambda cfg: cfg.io_yield_hold_seconds,
    ask=capped,
    title="protected work uses its disks: tier 3 capped on them",
    controls=["io_max"],
    disks=disks_used,
)
RULE = yield_rule(SPEC)
