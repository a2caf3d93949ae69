"""A real second disk for tests (a loop device with ext4 on it), and reading the io limits a
cgroup's throttle file holds per disk."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from host.cgroups.view import ProcessCgroups
from tests.support.real import missing


@dataclass(frozen=True)
class LoopDisk:
    device: str  # /dev/loopN
    number: str  # "7:N", as io.stat and io.max name it
    mountpoint: Path


@contextmanager
def loop_disk(directory: Path, size_mb: int = 128) -> Iterator[LoopDisk]:
    """A disk of its own, beside the one Docker's data is on: a sparse file behind a loop
    device, ext4 on it, mounted under directory."""
    if shutil.which("losetup") is None or not Path("/dev/loop-control").exists():
        missing("no loop devices on this host (losetup, /dev/loop-control)")
    image, mountpoint = directory / "disk.img", directory / "disk"
    with open(image, "wb") as f:
        f.truncate(size_mb << 20)
    found = subprocess.run(
        ["losetup", "--find", "--show", str(image)], capture_output=True, text=True
    )
    if found.returncode != 0:
        missing(f"no loop device could be set up: {found.stderr.strip()}")
    device = found.stdout.strip()
    try:
        number = (Path("/sys/block") / Path(device).name / "dev").read_text().strip()
        subprocess.run(["mkfs.ext4", "-q", device], check=True, capture_output=True)
        mountpoint.mkdir()
        subprocess.run(["mount", device, str(mountpoint)], check=True, capture_output=True)
        try:
            yield LoopDisk(device, number, mountpoint)
        finally:
            subprocess.run(["umount", "--lazy", str(mountpoint)], check=False)
    finally:
        subprocess.run(["losetup", "--detach", device], check=False)


def write_limits(path: Path) -> dict[str, str]:
    """Disk -> the write limit a throttle file holds on it (v1 "maj:min bps", v2 "maj:min ...
    wbps=N"); disks with no write limit are left out."""
    limits = {}
    for line in path.read_text().splitlines():
        fields = line.split()
        if not fields:
            continue
        wbps = [f.removeprefix("wbps=") for f in fields[1:] if f.startswith("wbps=")]
        limits[fields[0]] = wbps[0] if wbps else fields[-1]
    return {d: v for d, v in limits.items() if v not in ("0", "max")}


def limit_file(cgroups: ProcessCgroups) -> Path:
    """The file io.max's write limits are in: v2 io.max, else v1's write throttle."""
    path = cgroups.v2_file("io.max") or cgroups.v1_file("blkio", "blkio.throttle.write_bps_device")
    assert path is not None, "no io.max and no blkio throttle file"
    return path


def docker_disks() -> list[str]:
    """The block devices behind Docker's data (where containers write), or the test is
    not applicable here."""
    from host.block_devices import devices_backing

    devices = devices_backing("/var/lib/docker")
    if not devices:
        missing("no block device behind /var/lib/docker")
    return devices
