"""Bare processes and the configured process group each belongs to, read from /proc."""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Sequence
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
    # Field 22 (starttime); fields after ")" start at field 3.
    return ProcessIdentity(pid, int(fields[19]), stat[open_ + 1 : close], argv)


def find_group_processes(
    proc_root: str | Path, groups: Sequence[ProcessGroup], exclude: Sequence[int] = ()
) -> dict[str, list[ProcessIdentity]]:
    """Every live process of each group. pid 1 and `exclude` (Warden itself) never match."""
    found: dict[str, list[ProcessIdentity]] = {g.name: [] for g in groups}
    if not groups:
        return found  # no group to look for: no scan of every process
    skip = {1, *exclude}
    for entry in Path(proc_root).iterdir():
        if not entry.name.isdigit() or int(entry.name) in skip:
            continue
        identity = read_identity(proc_root, int(entry.name))
        if identity is None:
            continue
        group = group_of(identity.comm, identity.argv, groups)
        if group is not None:
            found[group].append(identity)
    return found


def is_stopped(proc_root: str | Path, pid: int) -> bool:
    try:
        stat = (Path(proc_root) / str(pid) / "stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2 :].startswith(("T", "t"))
