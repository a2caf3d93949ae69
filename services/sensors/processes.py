"""Every process's CPU and memory from /proc: the members of each process group, and the
busiest processes of the host (the top N by CPU and by memory).

One pass over /proc serves both: a process's stat is read once per sample, its
command line only where process groups are configured, its io only for members.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from host.processes.view import ProcessIdentity, group_trees
from shared.config.model import ProcessGroup
from shared.messages import ProcessUsage

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


class ProcParseError(ValueError):
    pass


@dataclass(frozen=True)
class PidStat:
    comm: str
    cpu_ticks: int
    rss_bytes: int
    # Clock ticks after boot: with the pid, it names a process even after its pid is reused.
    start_time: int = 0
    ppid: int = 0


def parse_pid_stat(text: str) -> PidStat:
    """/proc/<pid>/stat; comm is in parentheses and may itself hold spaces and ')'."""
    open_, close = text.find("("), text.rfind(")")
    if open_ < 0 or close < open_:
        raise ProcParseError(f"stat: no (comm) in {text[:80]!r}")
    rest = text[close + 1 :].split()
    try:
        # Fields 4 (ppid), 14 (utime), 15 (stime), 22 (starttime) and 24 (rss); rest starts
        # at field 3.
        utime, stime, rss = int(rest[11]), int(rest[12]), int(rest[21])
        start, ppid = int(rest[19]), int(rest[1])
    except (IndexError, ValueError):
        raise ProcParseError(f"stat: too few or bad fields in {text[:80]!r}") from None
    return PidStat(text[open_ + 1 : close], utime + stime, max(0, rss) * PAGE_BYTES, start, ppid)


def read_keyed(text: str) -> dict[str, int]:
    values = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if value.strip().isdigit():
            values[key.strip()] = int(value)
    return values


def parse_pid_io(text: str) -> tuple[int, int]:
    values = read_keyed(text)
    try:
        return values["read_bytes"], values["write_bytes"]
    except KeyError:
        raise ProcParseError("io: no read_bytes/write_bytes") from None


@dataclass(frozen=True)
class ProcessSample:
    pid: int
    group: str | None
    cpu_ticks: int
    rss_bytes: int
    io: tuple[int, int] | None
    comm: str = ""
    start_time: int = 0

    @property
    def key(self) -> tuple[int, int]:
        return self.pid, self.start_time


def scan_processes(proc_root: Path, groups: Sequence[ProcessGroup]) -> list[ProcessSample]:
    """Every process (kernel threads included: a busy kworker is busy), and the group of
    each where groups are configured: the processes a group matches and their descendants,
    as the actuator counts them (host/processes/view.py's group_trees)."""
    stats: dict[int, PidStat] = {}
    identities: dict[int, ProcessIdentity] = {}
    for entry in proc_root.iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        try:
            stat = parse_pid_stat((entry / "stat").read_text())
            raw = (entry / "cmdline").read_bytes() if groups else b""
        except (OSError, ProcParseError):
            continue  # exited while we looked
        stats[pid] = stat
        if raw:
            argv = tuple(a for a in raw.decode(errors="replace").split("\0") if a)
            identities[pid] = ProcessIdentity(pid, stat.start_time, stat.comm, argv, stat.ppid)
    group_of_pid = {
        p.pid: name for name, members in group_trees(identities, groups).items() for p in members
    }
    samples = []
    for pid, stat in stats.items():
        group = group_of_pid.get(pid)
        io: tuple[int, int] | None = None
        if group is not None:
            try:
                io = parse_pid_io((proc_root / str(pid) / "io").read_text())
            except (OSError, ProcParseError):
                io = None
        samples.append(
            ProcessSample(
                pid, group, stat.cpu_ticks, stat.rss_bytes, io, stat.comm, stat.start_time
            )
        )
    return samples


def top_processes(
    samples: Sequence[ProcessSample],
    previous: Mapping[tuple[int, int], int],
    cpu_share: float | None,
    memory_total: int | None,
    count: int,
) -> list[ProcessUsage]:
    """The `count` busiest by CPU, then those of the `count` largest by memory not among them.

    previous: CPU ticks of the last sample by (pid, start time); cpu_share: the
    percent of the machine one clock tick per second is (None on the first sample).
    """
    if count <= 0:
        return []

    def cpu(s: ProcessSample) -> float | None:
        before = previous.get(s.key)
        if before is None or cpu_share is None or s.cpu_ticks < before:
            return None
        return round(min(100.0, (s.cpu_ticks - before) * cpu_share), 1)

    by_cpu = sorted(samples, key=lambda s: (cpu(s) or 0.0, s.rss_bytes), reverse=True)
    chosen = [s for s in by_cpu[:count] if (cpu(s) or 0) > 0]
    keys = {s.key for s in chosen}
    by_memory = sorted(samples, key=lambda s: s.rss_bytes, reverse=True)
    chosen += [s for s in by_memory[:count] if s.key not in keys and s.rss_bytes > 0]
    return [
        ProcessUsage(
            pid=s.pid,
            name=s.comm,
            cpu_percent=cpu(s),
            rss_bytes=s.rss_bytes,
            memory_percent=round(min(100.0, 100 * s.rss_bytes / memory_total), 1)
            if memory_total
            else None,
            group=s.group,
        )
        for s in chosen
    ]
