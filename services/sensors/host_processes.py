"""The host processes the conditions watch (Unraid's mover, snapraid, borg, restic), from /proc.

No kernel event announces a new process to an unprivileged reader (the proc
connector needs CAP_NET_ADMIN), so /proc is read every
`sensors.condition_scan_seconds`, and only while a condition names a process.
Matching is pure: a name glob against the process name (comm) or argv[0]'s
basename, or a regular expression searched in the command line.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Sequence
from pathlib import Path

from host.processes.view import read_identity
from shared.config.model import Condition, ProcessMatch
from shared.errors import brief
from shared.messages import ProcessCondition, ProcessesFact, ProcessSeen

# A fact names a few of each condition's processes: enough to say which, never a list of all.
MAX_NAMED = 5


def matches(match: ProcessMatch, comm: str, argv: Sequence[str]) -> bool:
    names = {comm}
    if argv:
        names.add(os.path.basename(argv[0]))
    if any(fnmatch.fnmatchcase(n, glob) for glob in match.name for n in names):
        return True
    cmdline = " ".join(argv)
    return bool(cmdline) and any(re.search(pattern, cmdline) for pattern in match.cmdline)


def watched(conditions: Sequence[Condition]) -> list[Condition]:
    return [c for c in conditions if c.process is not None]


def scan(
    proc_root: str | Path, conditions: Sequence[Condition], host: str, exclude: Sequence[int] = ()
) -> ProcessesFact:
    """One reading of /proc for every process condition. pid 1 and `exclude` never match."""
    found: dict[str, list[ProcessSeen]] = {c.name: [] for c in conditions}
    skip = {1, *exclude}
    try:
        entries = [int(e.name) for e in Path(proc_root).iterdir() if e.name.isdigit()]
    except OSError as exc:
        return ProcessesFact(host=host, error=f"{proc_root}: {brief(exc)}")
    for pid in sorted(entries):
        if pid in skip:
            continue
        identity = read_identity(proc_root, pid)
        if identity is None:
            continue
        for condition in conditions:
            assert condition.process is not None
            if matches(condition.process, identity.comm, identity.argv):
                found[condition.name].append(ProcessSeen(pid=pid, name=identity.comm))
    return ProcessesFact(
        host=host,
        source=str(proc_root),
        conditions=[
            ProcessCondition(condition=name, running=bool(seen), processes=seen[:MAX_NAMED])
            for name, seen in found.items()
        ],
    )
