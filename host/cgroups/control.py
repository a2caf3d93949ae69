"""Writes to a container's cgroup files, for what Docker cannot set on a running container
or could not take back out of its record.

Each control has its v2 file and, on v1 or hybrid hosts, the v1 equivalent:

    cpu.weight   -> cpu.shares (the CpuShares Docker would write for that weight)
    memory.max   -> memory.limit_in_bytes
    memory.high  -> memory.soft_limit_in_bytes
    io.weight    -> io.bfq.weight, blkio.weight, blkio.bfq.weight
    io.max       -> blkio.throttle.{read,write}_bps_device
    cpu.idle     -> cpu.idle (the v1 cpu controller has it too, since Linux 5.15)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

from host.cgroups.view import ProcessCgroups
from shared.messages import CpuMax, IoMax, IoRate


class Unsupported(Exception):
    """The host has no file for this control (the controller is missing or not delegated)."""


def write(path: Path, value: str) -> None:
    # The kernel reads one value per write(); a trailing newline is accepted everywhere.
    with open(path, "w") as f:
        f.write(value + "\n")


CPU_SHARES_MAX = 262144


def cpu_shares(weight: int) -> int:
    """cpu.weight (1-10000) as Docker's CpuShares; runc's conversion gives the weight back."""
    return min(CPU_SHARES_MAX, 2 + math.ceil((weight - 1) * 262142 / 9999))


def v1_blkio_weight(weight: int) -> int:
    """cgroup v2 weight (1-10000) to v1 blkio weight (10-1000), inverse of runc's conversion."""
    return 10 + (weight - 1) * 990 // 9999


def set_cpu_weight(cg: ProcessCgroups, weight: int) -> Path:
    """The weight where Docker's record has none to put back (see the actuator's applier):
    the same value Docker's own update would have written."""
    if (path := cg.v2_file("cpu.weight")) is not None:
        write(path, str(weight))
        return path
    if (path := cg.v1_file("cpu", "cpu.shares")) is not None:
        write(path, str(cpu_shares(weight)))
        return path
    raise Unsupported("cpu.weight (no cpu controller)")


def set_memory_max(cg: ProcessCgroups, value: int | None) -> Path:
    """The hard limit where Docker's record has none to put back; None lifts it."""
    if (path := cg.v2_file("memory.max")) is not None:
        write(path, "max" if value is None else str(value))
        return path
    if (path := cg.v1_file("memory", "memory.limit_in_bytes")) is not None:
        write(path, "-1" if value is None else str(value))
        return path
    raise Unsupported("memory.max (no memory controller)")


def set_memory_high(cg: ProcessCgroups, value: int | None) -> Path:
    if (path := cg.v2_file("memory.high")) is not None:
        write(path, "max" if value is None else str(value))
        return path
    if (path := cg.v1_file("memory", "memory.soft_limit_in_bytes")) is not None:
        write(path, "-1" if value is None else str(value))
        return path
    raise Unsupported("memory.high (no memory controller)")


def set_io_weight(cg: ProcessCgroups, weight: int) -> Path:
    if (path := cg.v2_file("io.weight")) is not None:
        write(path, f"default {weight}")
        return path
    if (path := cg.v2_file("io.bfq.weight")) is not None:
        write(path, f"default {min(weight, 1000)}")
        return path
    for name in ("blkio.weight", "blkio.bfq.weight"):
        if (path := cg.v1_file("blkio", name)) is not None:
            write(path, str(v1_blkio_weight(weight)))
            return path
    raise Unsupported(
        "io.weight (no io/blkio weight file: no io controller or no BFQ/CFQ scheduler)"
    )


def set_io_max(
    cg: ProcessCgroups,
    devices: list[str],
    limit: IoMax | None,
    original: Mapping[str, str] | None = None,
) -> Path:
    """devices: "major:minor" of the whole disks behind the container's data; the limit's
    own disks are limited too. Every disk without a limit (one of those, or one the file
    lists: limited before) gets its rule from `original` (snapshot()'s contents) back, or
    none."""
    disks = {*devices, *(limit.disks if limit else {})}
    if not disks:
        raise Unsupported("io.max (no block device found behind the Docker data root)")
    limited = {d: r for d in disks if limit and (r := limit.on(d)) != IoRate()}
    original = original or {}
    if (path := cg.v2_file("io.max")) is not None:
        lines = {
            d: f"{d} rbps={r.read_bps or 'max'} wbps={r.write_bps or 'max'}"
            for d, r in limited.items()
        }
        _converge(path, disks, lines, original.get(v2_key(path.name), ""))
        return path
    read = cg.v1_file("blkio", "blkio.throttle.read_bps_device")
    written = cg.v1_file("blkio", "blkio.throttle.write_bps_device")
    if read is None or written is None:
        raise Unsupported("io.max (no io controller and no blkio throttle files)")
    reads = {d: f"{d} {r.read_bps}" for d, r in limited.items() if r.read_bps}
    writes = {d: f"{d} {r.write_bps}" for d, r in limited.items() if r.write_bps}
    _converge(read, disks, reads, original.get(v1_key("blkio", read.name), ""))
    _converge(written, disks, writes, original.get(v1_key("blkio", written.name), ""))
    return read


def _converge(path: Path, disks: set[str], lines: Mapping[str, str], original: str) -> None:
    """A per-device file: these lines; on the other disks, every device the file lists and
    every device the original does, the original rule or none."""
    before = {line.split()[0]: line.strip() for line in original.splitlines() if line.strip()}
    listed = {line.split()[0] for line in path.read_text().splitlines() if line.strip()}
    for device in sorted(disks | listed | before.keys()):
        line = lines.get(device) or before.get(device)
        write(path, line or _PER_DEVICE[path.name].format(dev=device))


def set_cpu_max(cg: ProcessCgroups, limit: CpuMax | None) -> Path:
    if (path := cg.v2_file("cpu.max")) is not None:
        period = limit.period_us if limit else 100_000
        write(path, f"{limit.quota_us if limit else 'max'} {period}")
        return path
    quota = cg.v1_file("cpu", "cpu.cfs_quota_us")
    period_file = cg.v1_file("cpu", "cpu.cfs_period_us")
    if quota is None or period_file is None:
        raise Unsupported("cpu.max (no cpu controller)")
    if limit is None:
        write(quota, "-1")
    else:
        write(period_file, str(limit.period_us))
        write(quota, str(limit.quota_us))
    return quota


def set_cpu_idle(cg: ProcessCgroups, idle: bool) -> Path | None:
    """The group's idle scheduling class: its tasks run only on CPU no other task wants, and
    yield it the moment one wakes. None: the host has no cpu.idle, and none was asked for."""
    path = cg.v2_file("cpu.idle") or cg.v1_file("cpu", "cpu.idle")
    if path is None:
        if idle:
            raise Unsupported("cpu.idle (no cpu controller, or a kernel before 5.15)")
        return None
    write(path, "1" if idle else "0")
    return path


# --- recording and restoring the original values -----------------------------

# Every file Warden may write, so all of them can be put back as they were.
V2_CONTROL_FILES = (
    "cpu.weight",
    "cpu.max",
    "cpu.idle",
    "memory.high",
    "memory.max",
    "io.weight",
    "io.bfq.weight",
    "io.max",
)
V1_CONTROL_FILES = (
    ("cpu", "cpu.shares"),
    ("cpu", "cpu.cfs_period_us"),
    ("cpu", "cpu.cfs_quota_us"),
    ("cpu", "cpu.idle"),
    ("memory", "memory.memsw.limit_in_bytes"),
    ("memory", "memory.limit_in_bytes"),
    ("memory", "memory.soft_limit_in_bytes"),
    ("blkio", "blkio.weight"),
    ("blkio", "blkio.bfq.weight"),
    ("blkio", "blkio.throttle.read_bps_device"),
    ("blkio", "blkio.throttle.write_bps_device"),
)
# Files a record from before Warden wrote them lacks: put to the kernel's default on restore.
_NEUTRAL = {"cpu.idle": "0"}
# Per-device files: a rule not in the original must be lifted, not just left.
_PER_DEVICE = {
    "io.max": "{dev} rbps=max wbps=max riops=max wiops=max",
    "blkio.throttle.read_bps_device": "{dev} 0",
    "blkio.throttle.write_bps_device": "{dev} 0",
}


def v2_key(name: str) -> str:
    """A v2 file's key in snapshot(): independent of the container's path."""
    return f"v2:{name}"


def v1_key(controller: str, name: str) -> str:
    return f"v1:{controller}:{name}"


def _control_paths(cg: ProcessCgroups) -> dict[str, Path]:
    paths = {v2_key(name): cg.v2_file(name) for name in V2_CONTROL_FILES}
    paths |= {v1_key(ctl, name): cg.v1_file(ctl, name) for ctl, name in V1_CONTROL_FILES}
    return {key: path for key, path in paths.items() if path is not None}


def snapshot(cg: ProcessCgroups) -> dict[str, str]:
    """The raw contents of every control file the container has, keyed independently of its path."""
    values = {}
    for key, path in _control_paths(cg).items():
        try:
            values[key] = path.read_text()
        except OSError:
            continue
    return values


def _restore_file(path: Path, original: str) -> None:
    name = path.name
    if name in _PER_DEVICE:
        _converge(path, set(), {}, original)
        return
    if name == "io.weight" or name == "io.bfq.weight":
        write(path, original.splitlines()[0].strip() if original.strip() else "default 100")
        return
    write(path, original.strip())


def restore(cg: ProcessCgroups, original: dict[str, str]) -> list[str]:
    """Write every recorded file back; returns what could not be restored, and why."""
    paths = _control_paths(cg)
    original = {
        **{key: _NEUTRAL[path.name] for key, path in paths.items() if path.name in _NEUTRAL},
        **original,
    }
    pending = [key for key in original if key in paths]
    errors: dict[str, str] = {}
    # memory.limit must stay <= memsw.limit at every step: a second pass finishes what
    # the order of the first pass made the kernel refuse.
    for _ in range(2):
        failed = []
        for key in pending:
            try:
                _restore_file(paths[key], original[key])
            except OSError as exc:
                failed.append(key)
                errors[key] = exc.strerror or str(exc)
        pending = failed
    return [f"{key}: {errors[key]}" for key in pending]
