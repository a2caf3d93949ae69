"""The host's counters as the kernel writes them (/proc/stat, /proc/meminfo,
/proc/diskstats), parsed, and the rates between two readings. Pure: a line the kernel
did not write is a ProcParseError naming the file and the line."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from services.sensors.processes import ProcParseError

SECTOR_BYTES = 512  # /proc/diskstats counts 512-byte sectors whatever the device's own size


@dataclass(frozen=True)
class CpuTimes:
    busy: int
    total: int


def _cpu_times(line: str) -> CpuTimes:
    parts = line.split()[1:]
    try:
        values = [int(v) for v in parts[:8]]
    except ValueError:
        raise ProcParseError(f"/proc/stat: bad cpu line {line[:80]!r}") from None
    if len(values) < 4:
        raise ProcParseError(f"/proc/stat: cpu line has {len(values)} fields, needs 4")
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    total = sum(values)
    return CpuTimes(total - idle, total)


def parse_proc_stat(text: str) -> CpuTimes:
    """The aggregate `cpu` line, in clock ticks; iowait counts as idle, guest is inside user."""
    for line in text.splitlines():
        if line.startswith("cpu "):
            return _cpu_times(line)
    raise ProcParseError("/proc/stat: no aggregate cpu line")


def parse_proc_stat_cores(text: str) -> dict[str, CpuTimes]:
    """The per-CPU `cpuN` lines, by name (an offline CPU has no line)."""
    return {
        line.split()[0]: _cpu_times(line)
        for line in text.splitlines()
        if line.startswith("cpu") and line[3:4].isdigit()
    }


def parse_meminfo(text: str) -> tuple[int, int]:
    """(MemTotal, MemAvailable) in bytes."""
    values: dict[str, int] = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if key in ("MemTotal", "MemAvailable") and parts:
            try:
                values[key] = int(parts[0]) * (1024 if parts[1:] == ["kB"] else 1)
            except ValueError:
                raise ProcParseError(f"/proc/meminfo: bad {key} line {line[:80]!r}") from None
    missing = [k for k in ("MemTotal", "MemAvailable") if k not in values]
    if missing:
        raise ProcParseError(f"/proc/meminfo: no {', '.join(missing)}")
    total, available = values["MemTotal"], values["MemAvailable"]
    if total <= 0 or not 0 <= available <= total:
        raise ProcParseError(f"/proc/meminfo: MemAvailable {available} outside 0..{total}")
    return total, available


@dataclass(frozen=True)
class DiskCounters:
    read_bytes: int = 0
    write_bytes: int = 0
    # Operations completed.
    reads: int = 0
    writes: int = 0


def parse_diskstats(text: str, disks: Iterable[str]) -> DiskCounters:
    """Bytes and operations, read and written, summed over the named whole disks."""
    wanted = set(disks)
    read = written = reads = writes = 0
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 10 or parts[2] not in wanted:
            continue
        try:
            reads += int(parts[3])
            read += int(parts[5]) * SECTOR_BYTES
            writes += int(parts[7])
            written += int(parts[9]) * SECTOR_BYTES
        except ValueError:
            raise ProcParseError(f"/proc/diskstats: bad line {line[:80]!r}") from None
    return DiskCounters(read, written, reads, writes)


def rate(previous: float | None, current: float | None, seconds: float) -> float | None:
    """Per-second rate of a counter; None when unknown or when it went backwards (a reset)."""
    if previous is None or current is None or seconds <= 0 or current < previous:
        return None
    return (current - previous) / seconds


def io_rates(
    previous: Mapping[str, int] | None, current: Mapping[str, int], seconds: float
) -> tuple[float | None, dict[str, float] | None]:
    """Bytes/s in all, and per disk that moved any (a disk first listed now counts from 0:
    the counters list a disk from its first I/O on). None: unknown, or a counter reset."""
    if previous is None:
        return None, None
    total = rate(sum(previous.values()), sum(current.values()), seconds)
    by_disk: dict[str, float] = {}
    for disk, count in sorted(current.items()):
        moved = rate(previous.get(disk, 0), count, seconds)
        if moved is None:
            return total, None
        if moved > 0:
            by_disk[disk] = round(moved, 1)
    return total, by_disk if total is not None else None


def share(busy_delta: float | None, total_delta: float | None) -> float | None:
    if busy_delta is None or not total_delta or total_delta <= 0:
        return None
    return round(min(100.0, max(0.0, 100 * busy_delta / total_delta)), 1)
