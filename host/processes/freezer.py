"""cgroup.freeze for a process group: the cgroup its members have to themselves, or, where
they share theirs with other processes, a cgroup of Warden's own they are moved into while
paused (`<cgroup2 mount>/warden-groups/<group>`), and moved out of, back where each came
from, when they resume.

Each member's original cgroup is recorded (per pid and start time) before it is moved, so
a restart or `--cleanup` puts it back. A host without cgroup2, or without cgroup.freeze
(kernel < 5.2), or where Warden may not create or write cgroups, says why here, and the
group is paused with signals instead.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence
from pathlib import Path

from host.cgroups import control as cgroup_files
from host.cgroups.view import CgroupLayout, process_cgroups
from host.processes.view import ProcessIdentity

OWN_CGROUPS = "warden-groups"


class FreezeUnavailable(Exception):
    """Why a group cannot be frozen here; its members are paused with signals instead."""


def cgroup_of(layout: CgroupLayout, proc_root: str | Path, pid: int) -> Path | None:
    """The cgroup2 directory of a process; None: gone, or no cgroup2 here."""
    try:
        return process_cgroups(layout, proc_root, pid).v2
    except OSError:
        return None


def members_of(directory: Path) -> set[int]:
    try:
        return {int(x) for x in (directory / "cgroup.procs").read_text().split()}
    except (OSError, ValueError):
        return set()


def shared_or_own(
    layout: CgroupLayout, proc_root: str | Path, processes: Sequence[ProcessIdentity]
) -> Path | None:
    """The cgroup the members have to themselves, or None when they share one with other
    processes (or are spread over several)."""
    dirs = {cgroup_of(layout, proc_root, p.pid) for p in processes}
    if len(dirs) != 1 or None in dirs:
        return None
    directory = dirs.pop()
    assert directory is not None
    if directory == layout.v2_mount or not (directory / "cgroup.freeze").exists():
        return None
    if not members_of(directory) <= {p.pid for p in processes}:
        return None
    return directory


def own_cgroup_path(layout: CgroupLayout, group: str) -> Path:
    """Where a group's members wait while frozen. Raises FreezeUnavailable without cgroup2."""
    if layout.v2_mount is None:
        raise FreezeUnavailable("this host has no cgroup2 hierarchy")
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", group)[:64].lstrip(".") or "group"
    return layout.v2_mount / OWN_CGROUPS / safe


def make_own_cgroup(directory: Path) -> None:
    """Create Warden's cgroup for a group (its parent holds no process, so the kernel's
    no-internal-processes rule never bites). Raises FreezeUnavailable with the reason."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FreezeUnavailable(
            f"cannot create {directory}: {exc.strerror or exc} (a read-only cgroup mount, or "
            "no right to make cgroups)"
        ) from None
    if not (directory / "cgroup.freeze").exists():
        raise FreezeUnavailable(f"{directory} has no cgroup.freeze (a kernel before 5.2)")


def move(pid: int, directory: Path) -> None:
    """Raises OSError (ESRCH: gone; EBUSY, EACCES: the kernel refuses)."""
    cgroup_files.write(directory / "cgroup.procs", str(pid))


def remove_if_empty(directory: Path) -> None:
    """Warden's cgroup for a group, once nothing is left in it."""
    if directory.parent.name != OWN_CGROUPS:
        return
    with contextlib.suppress(OSError):  # still in use, or already gone
        directory.rmdir()
