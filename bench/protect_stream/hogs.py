"""The hogs and what the stream and the hog share: each kind's hog command, its work
measured from its cgroups, the stream's probe moved into its container's cgroups, and,
for the memory hog, the limited parent cgroup and the stream's media and page cache."""

from __future__ import annotations

import os
import time
from pathlib import Path

from bench.rig import Rig
from host.cgroups.view import CgroupLayout, ProcessCgroups, read_flat_keyed
from services.sensors.resources import container_cpu_usec, container_io_by_disk

# The memory hog's cgroup parent, shared with the stream and limited: the hog at its peak
# and the stream's cache do not fit in it together, and the kernel evicts the cache; the
# hog alone fits, beside the few MiB the stream holds besides its cache, so nothing is
# killed for memory.
MEMORY_PARENT = "warden-bench-memory"
MEMORY_LIMIT_MB = 512
HOG_PEAK_MB = 440
STREAM_CACHE_MB = 160
# In the rig's directory, which it keeps for the services' logs: removed at the end.
MEDIA_FILE = "media"
HOGS = {
    "io": "while :; do dd if=/dev/zero of=/data/hog bs=1M count=256 oflag=direct 2>/dev/null; done",
    "cpu": "while :; do :; done & while :; do :; done",
    "memory": (
        f"while :; do i=0; while [ $i -lt {HOG_PEAK_MB * 4} ]; do"
        " dd if=/dev/zero of=/mnt/f bs=256K count=1 seek=$i conv=notrunc 2>/dev/null;"
        " i=$((i+1)); done; rm -f /mnt/f; done"
    ),
}
JOINED = ("cpu", "cpuacct", "blkio", "memory")


def join_cgroups(pid: int, cg: ProcessCgroups) -> None:
    """Move a host process into the container's cgroups: it stalls, and is counted, as the
    container's own processes are."""
    directories = [d for c, d in cg.v1.items() if c in JOINED]
    if cg.v2 is not None:
        directories.append(cg.v2)
    for directory in directories:
        (directory / "cgroup.procs").write_text(str(pid))


def procs_file(cg: ProcessCgroups) -> Path:
    """The file that lists a container's processes."""
    if (v1 := cg.v1_file("cpu", "cgroup.procs")) is not None:
        return v1
    assert cg.v2 is not None
    return cg.v2 / "cgroup.procs"


def work(kind: str, cg: ProcessCgroups) -> float:
    if kind == "io":
        return float(sum((container_io_by_disk(cg) or {}).values()))
    return float(container_cpu_usec(cg) or 0)


def limit_parent(layout: CgroupLayout) -> None:
    """Create the memory hog's shared parent cgroup with its limit (Docker puts the stream
    and the hog under it: cgroup_parent)."""
    limit = str(MEMORY_LIMIT_MB << 20)
    if (v1 := layout.v1_mounts.get("memory")) is not None:
        (v1 / MEMORY_PARENT).mkdir(exist_ok=True)
        (v1 / MEMORY_PARENT / "memory.limit_in_bytes").write_text(limit)
    else:
        assert layout.v2_mount is not None
        (layout.v2_mount / MEMORY_PARENT).mkdir(exist_ok=True)
        (layout.v2_mount / MEMORY_PARENT / "memory.max").write_text(limit)


def remove_parent(layout: CgroupLayout) -> None:
    """The parent, in every hierarchy Docker made it in (devices and name=systemd too, which
    Warden's layout does not list), once its containers are gone."""
    for directory in [*layout.root.glob(f"*/{MEMORY_PARENT}"), layout.root / MEMORY_PARENT]:
        for _ in range(50):  # a removed container's cgroup goes a moment after it
            try:
                directory.rmdir()
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.1)


def media_file(rig: Rig) -> Path:
    """The stream's media for the memory hog, written once and dropped from the page cache
    each mode, so that the stream's own reads cache it, charged to the stream."""
    media = rig.workdir / MEDIA_FILE
    if not media.exists():
        with media.open("wb") as f:
            for _ in range(STREAM_CACHE_MB):
                f.write(os.urandom(1 << 20))
            os.fsync(f.fileno())
    fd = os.open(media, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
    return media


def page_cache_bytes(cg: ProcessCgroups) -> int | None:
    """The page cache charged to a container's memory cgroup (v2 memory.stat file, v1
    total_cache), read as host.cgroups.view.resident_bytes reads its anon."""
    if (stat := cg.v2_file("memory.stat")) is not None:
        return read_flat_keyed(stat).get("file")
    if (stat := cg.v1_file("memory", "memory.stat")) is not None:
        values = read_flat_keyed(stat)
        return values.get("total_cache", values.get("cache"))
    return None
