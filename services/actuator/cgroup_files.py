"""Writes to a container's cgroup files, for what Docker cannot set on a running container.

Each control has its v2 file and, on v1 or hybrid hosts, the v1 equivalent:

    memory.high  -> memory.soft_limit_in_bytes
    io.weight    -> io.bfq.weight, blkio.weight, blkio.bfq.weight
    io.max       -> blkio.throttle.{read,write}_bps_device
"""

from __future__ import annotations

from pathlib import Path

from shared.cgroupfs import ProcessCgroups
from shared.messages import IoMax


class Unsupported(Exception):
    """The host has no file for this control (the controller is missing or not delegated)."""


def write(path: Path, value: str) -> None:
    # The kernel reads one value per write(); a trailing newline is accepted everywhere.
    with open(path, "w") as f:
        f.write(value + "\n")


def v1_blkio_weight(weight: int) -> int:
    """cgroup v2 weight (1-10000) to v1 blkio weight (10-1000), inverse of runc's conversion."""
    return 10 + (weight - 1) * 990 // 9999


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


def set_io_max(cg: ProcessCgroups, devices: list[str], limit: IoMax | None) -> Path:
    """devices: "major:minor" of the block devices that back the container's data."""
    if not devices:
        raise Unsupported("io.max (no block device found behind the Docker data root)")
    if (path := cg.v2_file("io.max")) is not None:
        rbps = limit.read_bps if limit and limit.read_bps else "max"
        wbps = limit.write_bps if limit and limit.write_bps else "max"
        for device in devices:
            write(path, f"{device} rbps={rbps} wbps={wbps}")
        return path
    read = cg.v1_file("blkio", "blkio.throttle.read_bps_device")
    written = cg.v1_file("blkio", "blkio.throttle.write_bps_device")
    if read is None or written is None:
        raise Unsupported("io.max (no io controller and no blkio throttle files)")
    for device in devices:
        # 0 removes a v1 throttle rule.
        write(read, f"{device} {limit.read_bps if limit and limit.read_bps else 0}")
        write(written, f"{device} {limit.write_bps if limit and limit.write_bps else 0}")
    return read
