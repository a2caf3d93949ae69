"""Bare processes and the configured process group each belongs to, read from /proc."""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from shared.config.model import ProcessGroup


@dataclass(frozen=True)
class ProcessIdentity:
    pid: int
    # Clock ticks after boot: with the pid, it names a process even after its pid is reused.
    start_time: int
    comm: str
    argv: tuple[str, ...]
    # The parent's pid (0: unknown).
    ppid: int = 0

    @property
    def key(self) -> str:
        return f"{self.pid}:{self.start_time}"


def group_of(comm: str, argv: Sequence[str], groups: Sequence[ProcessGroup]) -> str | None:
    """The first group (in config order) whose name glob or cmdline regex matches."""
    names = {comm}
    if argv:
        names.add(os.path.basename(argv[0]))
    cmdline = " ".join(argv)
    for group in groups:
        if any(fnmatch.fnmatchcase(n, g) for g in group.match_name for n in names):
            return group.name
        if cmdline and any(re.search(p, cmdline) for p in group.match_cmdline):
            return group.name
    return None


def read_identity(proc_root: str | Path, pid: int) -> ProcessIdentity | None:
    """None when the process is gone, or is a kernel thread (no command line)."""
    entry = Path(proc_root) / str(pid)
    try:
        stat = (entry / "stat").read_text()
        raw_argv = (entry / "cmdline").read_bytes()
    except OSError:
        return None
    open_, close = stat.find("("), stat.rfind(")")
    fields = stat[close + 1 :].split()
    if open_ < 0 or close < open_ or len(fields) < 20 or not raw_argv:
        return None
    argv = tuple(a for a in raw_argv.decode(errors="replace").split("\0") if a)
    # Fields 4 (ppid) and 22 (starttime); fields after ")" start at field 3.
    return ProcessIdentity(pid, int(fields[19]), stat[open_ + 1 : close], argv, ppid=int(fields[1]))


def read_processes(proc_root: str | Path) -> dict[int, ProcessIdentity]:
    """Every user-space process now, by pid."""
    found = {}
    for entry in Path(proc_root).iterdir():
        if entry.name.isdigit():
            identity = read_identity(proc_root, int(entry.name))
            if identity is not None:
                found[identity.pid] = identity
    return found


def group_trees(
    processes: Mapping[int, ProcessIdentity],
    groups: Sequence[ProcessGroup],
    exclude: Iterable[int] = (),
) -> dict[str, list[ProcessIdentity]]:
    """Each group's members, parents before their children: the processes it matches and,
    where the group includes children, every descendant of those (a descendant another
    group matches belongs to that group). Pure.

    pid 1 and `exclude` (Warden itself) never belong to a group, and neither does what
    descends from them unless matched on its own account.
    """
    skip = {1, *exclude}
    by_name = {g.name: g for g in groups}
    direct = {
        pid: group
        for pid, p in processes.items()
        if pid not in skip and (group := group_of(p.comm, p.argv, groups)) is not None
    }
    # pid -> (group, depth within the group's tree); None: in no group.
    placed: dict[int, tuple[str, int] | None] = {}

    def place(pid: int) -> tuple[str, int] | None:
        chain: list[int] = []
        found: tuple[str, int] | None = None
        current = pid
        # Up the parents until a process already placed, a matched one, or the top.
        while current not in placed and len(chain) <= len(processes):
            if current in skip or current not in processes:
                break
            if current in direct:
                group = direct[current]
                # A matched process under another of its group is one of its children.
                placed[current] = None  # no cycle through here while its parent is placed
                parent = place(processes[current].ppid)
                depth = parent[1] + 1 if parent is not None and parent[0] == group else 0
                placed[current] = found = (group, depth)
                break
            chain.append(current)
            current = processes[current].ppid
        else:
            found = placed.get(current)
        for child in reversed(chain):
            inherited = found is not None and by_name[found[0]].include_children
            found = (found[0], found[1] + 1) if inherited and found is not None else None
            placed[child] = found
        return placed.get(pid)

    members: dict[str, list[tuple[int, int]]] = {g.name: [] for g in groups}
    for pid in sorted(processes):
        where = place(pid)
        if where is not None:
            members[where[0]].append((where[1], pid))
    return {name: [processes[pid] for _, pid in sorted(found)] for name, found in members.items()}


def find_group_processes(
    proc_root: str | Path, groups: Sequence[ProcessGroup], exclude: Sequence[int] = ()
) -> dict[str, list[ProcessIdentity]]:
    """Every live process of each group, parents first (group_trees). pid 1 and `exclude`
    (Warden itself) never match."""
    if not groups:
        return {}  # no group to look for: no scan of every process
    return group_trees(read_processes(proc_root), groups, exclude)


def is_stopped(proc_root: str | Path, pid: int) -> bool:
    try:
        stat = (Path(proc_root) / str(pid) / "stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2 :].startswith(("T", "t"))
