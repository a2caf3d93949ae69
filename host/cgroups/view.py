"""Where a process's cgroups are, read from what the kernel says (never a guessed path).

Works on cgroup v2 hosts, v1 hosts and hybrid hosts (v1 controllers beside a
v2 hierarchy mounted at <root>/unified). The roots are settings so tests can
point them at a temporary tree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

V1_CONTROLLERS = ("cpu", "cpuacct", "memory", "blkio", "freezer", "pids", "cpuset")


@dataclass(frozen=True)
class CgroupLayout:
    root: Path
    # Where the cgroup2 hierarchy is mounted, if any (root itself on a pure v2 host).
    v2_mount: Path | None
    # v1 controller -> its mount point (a combined mount like cpu,cpuacct appears under each).
    v1_mounts: dict[str, Path] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        if self.v2_mount == self.root:
            return "v2"
        return "hybrid" if self.v2_mount else "v1"


def detect_layout(cgroup_root: str | Path) -> CgroupLayout:
    root = Path(cgroup_root)
    if (root / "cgroup.controllers").exists():
        return CgroupLayout(root, root)
    v2 = root / "unified"
    v1: dict[str, Path] = {}
    if root.is_dir():
        for entry in sorted(root.iterdir()):
            for controller in entry.name.split(","):
                if controller in V1_CONTROLLERS and entry.is_dir():
                    v1.setdefault(controller, entry)
    return CgroupLayout(root, v2 if (v2 / "cgroup.controllers").exists() else None, v1)


@dataclass(frozen=True)
class ProcessCgroups:
    """The cgroup directories a process is in: v2 and per-v1-controller."""

    v2: Path | None
    v1: dict[str, Path]

    def v2_file(self, name: str) -> Path | None:
        if self.v2 is None:
            return None
        path = self.v2 / name
        return path if path.exists() else None

    def v1_file(self, controller: str, name: str) -> Path | None:
        directory = self.v1.get(controller)
        if directory is None:
            return None
        path = directory / name
        return path if path.exists() else None


def _under(mount: Path, cgroup_path: str) -> Path:
    return mount / cgroup_path.lstrip("/")


def process_cgroups(layout: CgroupLayout, proc_root: str | Path, pid: int) -> ProcessCgroups:
    """Raises OSError when the process is gone or its cgroup file cannot be read."""
    text = (Path(proc_root) / str(pid) / "cgroup").read_text()
    v2: Path | None = None
    v1: dict[str, Path] = {}
    for line in text.splitlines():
        hierarchy, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        if hierarchy == "0" and controllers == "":
            if layout.v2_mount is not None:
                v2 = _under(layout.v2_mount, path)
            continue
        for controller in controllers.split(","):
            mount = layout.v1_mounts.get(controller)
            if mount is not None:
                v1[controller] = _under(mount, path)
    return ProcessCgroups(v2, v1)


def read_flat_keyed(path: Path) -> dict[str, int]:
    """A cgroup file of `key value` lines (memory.stat, cpu.stat)."""
    values: dict[str, int] = {}
    for line in path.read_text().splitlines():
        key, _, value = line.partition(" ")
        if value.strip().lstrip("-").isdigit():
            values[key] = int(value)
    return values


def resident_bytes(cgroups: ProcessCgroups) -> int | None:
    """Anonymous (resident) memory of the cgroup: v2 memory.stat anon, v1 total_rss."""
    stat = cgroups.v2_file("memory.stat")
    if stat is not None:
        return read_flat_keyed(stat).get("anon")
    stat = cgroups.v1_file("memory", "memory.stat")
    if stat is not None:
        values = read_flat_keyed(stat)
        return values.get("total_rss", values.get("rss"))
    return None
