"""Which whole block devices back a path: io.max and blkio throttles take disks, not partitions."""

from __future__ import annotations

import os
from pathlib import Path


def whole_disk(major: int, minor: int, sys_root: str | Path = "/sys") -> str | None:
    entry = Path(sys_root) / "dev" / "block" / f"{major}:{minor}"
    if not entry.exists():
        return None
    if (entry / "partition").exists():
        parent_dev = entry.resolve().parent / "dev"
        try:
            return parent_dev.read_text().strip()
        except OSError:
            return None
    return f"{major}:{minor}"


def is_whole_disk(number: str, sys_root: str | Path = "/sys") -> bool:
    """number: "major:minor", as io.stat names a disk."""
    major, _, minor = number.partition(":")
    return (
        major.isdigit()
        and minor.isdigit()
        and whole_disk(int(major), int(minor), sys_root) == number
    )


def devices_backing(path: str | Path, sys_root: str | Path = "/sys") -> list[str]:
    try:
        st = os.stat(path)
    except OSError:
        return []
    major, minor = os.major(st.st_dev), os.minor(st.st_dev)
    if major == 0:
        return []  # tmpfs, overlay and other virtual filesystems have no device to throttle
    device = whole_disk(major, minor, sys_root)
    return [device] if device else []
