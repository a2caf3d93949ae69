"""Whose a GPU process is: the Docker container its cgroup lies in. Pure, given the
process's cgroups (read from /proc/<pid>/cgroup by the caller)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from host.cgroups.view import CgroupLayout, ProcessCgroups
from shared.messages import GpuFact

# v1 controllers whose directory places a process in its container.
V1_PLACES = ("memory", "cpu", "pids")


def _under(path: Path | None, root: Path | None, mounts: Iterable[Path]) -> bool:
    # A container at a hierarchy's root (no cgroup of its own) would own every process.
    if path is None or root is None or root in mounts:
        return False
    return path == root or root in path.parents


def owner(
    process: ProcessCgroups, containers: Iterable[tuple[str, ProcessCgroups]], layout: CgroupLayout
) -> str | None:
    """The name of the container whose cgroup holds the process (its init's, or one below
    it); None: no container's."""
    mounts = {m for m in (layout.root, layout.v2_mount, *layout.v1_mounts.values()) if m}
    for name, cgroups in containers:
        if _under(process.v2, cgroups.v2, mounts):
            return name
        if any(_under(process.v1.get(c), cgroups.v1.get(c), mounts) for c in V1_PLACES):
            return name
    return None


def with_owners(fact: GpuFact, owner_of: Callable[[int], str | None]) -> GpuFact:
    """The fact with each process's container named, where it is in one."""
    gpus = []
    for device in fact.gpus:
        if not device.processes:
            gpus.append(device)
            continue
        processes = [p.model_copy(update={"container": owner_of(p.pid)}) for p in device.processes]
        gpus.append(device.model_copy(update={"processes": processes}))
    return fact.model_copy(update={"gpus": gpus})
