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
