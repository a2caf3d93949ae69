"""CPU, memory and disk I/O: the whole host, each process group, each running container.

Counters come from /proc/stat, /proc/meminfo, /proc/diskstats,
/proc/<pid>/{stat,cmdline,io} and the containers' cgroup files; rates need two
readings, so the first reading's rates are unknown (None), never 0. CPU
percentages are of the whole machine (all CPUs), as `tier2_cpu_max_percent`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from host.cgroups.view import ProcessCgroups, read_flat_keyed, resident_bytes
from services.sensors.proc_stats import (
    CpuTimes,
    DiskCounters,
    io_rates,
    parse_diskstats,
    parse_meminfo,
    parse_proc_stat,
    parse_proc_stat_cores,
    rate,
    share,
)
from services.sensors.processes import (
    CLOCK_TICKS,
    ProcessSample,
    ProcParseError,
    scan_processes,
    top_processes,
)
from shared.config.model import ProcessGroup
from shared.messages import (
    ContainerUsage,
    HostUsage,
    ProcessGroupUsage,
    ProcessUsage,
    ResourcesFact,
)


def physical_disks(sys_root: str | Path) -> list[str]:
    """Whole disks with a device behind them; loop, dm, md, zram and partitions have none."""
    block = Path(sys_root) / "block"
    if not block.is_dir():
        return []
    return sorted(d.name for d in block.iterdir() if (d / "device").exists())


@dataclass(frozen=True)
class RunningContainer:
    id: str
    name: str
    cgroups: ProcessCgroups


def container_cpu_usec(cgroups: ProcessCgroups) -> int | None:
    stat = cgroups.v2_file("cpu.stat")
    if stat is not None:
        usage = read_flat_keyed(stat).get("usage_usec")
        if usage is not None:
            return usage
    usage_file = cgroups.v1_file("cpuacct", "cpuacct.usage") or cgroups.v1_file(
        "cpu", "cpuacct.usage"
    )
    if usage_file is not None:
        return int(usage_file.read_text().strip()) // 1000
    return None


def container_io_by_disk(cgroups: ProcessCgroups) -> dict[str, int] | None:
    """Bytes read and written per disk: v2 io.stat, else v1 blkio.throttle.io_service_bytes."""
    totals: dict[str, int] = {}
    stat = cgroups.v2_file("io.stat")
    if stat is not None:
        for line in stat.read_text().splitlines():
            if not line.strip():
                continue
            device, *pairs = line.split()
            fields = dict(p.split("=", 1) for p in pairs if "=" in p)
            totals[device] = int(fields.get("rbytes", 0)) + int(fields.get("wbytes", 0))
        return totals
    service = cgroups.v1_file("blkio", "blkio.throttle.io_service_bytes")
    if service is None:
        return None
    for line in service.read_text().splitlines():
        parts = line.split()
        # "<major:minor> Read|Write <n>" lines; the closing "Total <n>" line has no device.
        if len(parts) == 3 and parts[1] in ("Read", "Write"):
            totals[parts[0]] = totals.get(parts[0], 0) + int(parts[2])
    return totals


def container_memory_bytes(cgroups: ProcessCgroups) -> int | None:
    """Charged memory: v2 memory.current, else v1 memory.usage_in_bytes."""
    path = cgroups.v2_file("memory.current") or cgroups.v1_file("memory", "memory.usage_in_bytes")
    return int(path.read_text().strip()) if path is not None else None


@dataclass
class _Previous:
    at: float | None = None
    cpu: CpuTimes | None = None
    cores: dict[str, CpuTimes] = field(default_factory=dict)
    disk: DiskCounters | None = None
    pids: dict[int, tuple[int, tuple[int, int] | None]] = field(default_factory=dict)
    # CPU ticks of every process, by (pid, start time), for the busiest processes.
    ticks: dict[tuple[int, int], int] = field(default_factory=dict)
    containers: dict[str, int] = field(default_factory=dict)
    container_io: dict[str, dict[str, int]] = field(default_factory=dict)
    container_memory: dict[str, int] = field(default_factory=dict)


class ResourceSampler:
    def __init__(
        self,
        proc_root: str | Path,
        sys_root: str | Path,
        groups: Sequence[ProcessGroup],
        cpu_count: int | None = None,
        top: int = 0,
    ) -> None:
        """top: how many processes by CPU and by memory the fact lists (0: none)."""
        self._proc = Path(proc_root)
        self._sys = Path(sys_root)
        self._groups = list(groups)
        self._top = top
        self._cpu_count = cpu_count or os.cpu_count() or 1
        self._prev = _Previous()

    def sample(
        self, host: str, now: float, containers: Mapping[str, RunningContainer]
    ) -> ResourcesFact:
        errors: list[str] = []
        prev, elapsed = self._prev, (now - self._prev.at) if self._prev.at is not None else 0.0
        current = _Previous(at=now)

        cpu_percent = None
        per_core: list[float] | None = None
        try:
            stat = (self._proc / "stat").read_text()
            current.cpu = parse_proc_stat(stat)
            current.cores = parse_proc_stat_cores(stat)
            if prev.cpu is not None:
                cpu_percent = share(
                    current.cpu.busy - prev.cpu.busy, current.cpu.total - prev.cpu.total
                )
            if prev.cores and prev.cores.keys() == current.cores.keys():
                shares = [
                    share(now_.busy - prev.cores[n].busy, now_.total - prev.cores[n].total)
                    for n, now_ in current.cores.items()
                ]
                known = [round(v, 1) for v in shares if v is not None]
                per_core = known if known and len(known) == len(shares) else None
        except (OSError, ProcParseError) as exc:
            errors.append(f"cpu: {exc}")

        memory_total = memory_available = memory_percent = None
        try:
            memory_total, memory_available = parse_meminfo((self._proc / "meminfo").read_text())
            memory_percent = round(100 * (1 - memory_available / memory_total), 1)
        except (OSError, ProcParseError) as exc:
            errors.append(f"memory: {exc}")

        rates: dict[str, float | None] = {}
        disks = physical_disks(self._sys)
        if not disks:
            errors.append(f"disk: no physical disks under {self._sys / 'block'}")
        else:
            try:
                current.disk = parse_diskstats((self._proc / "diskstats").read_text(), disks)
            except (OSError, ProcParseError) as exc:
                errors.append(f"disk: {exc}")
        if current.disk is not None and prev.disk is not None:
            for key in ("read_bytes", "write_bytes", "reads", "writes"):
                before, now_ = getattr(prev.disk, key), getattr(current.disk, key)
                rates[key] = _round(rate(before, now_, elapsed))
        disk = current.disk

        machine = HostUsage(
            cpu_count=self._cpu_count,
            cpu_percent=cpu_percent,
            cpu_per_core_percent=per_core,
            memory_total_bytes=memory_total,
            memory_available_bytes=memory_available,
            memory_used_percent=memory_percent,
            memory_used_bytes=memory_total - memory_available
            if memory_total is not None and memory_available is not None
            else None,
            disk_read_bytes_per_second=rates.get("read_bytes"),
            disk_write_bytes_per_second=rates.get("write_bytes"),
            disk_reads_per_second=rates.get("reads"),
            disk_writes_per_second=rates.get("writes"),
            disk_read_bytes=disk.read_bytes if disk else None,
            disk_write_bytes=disk.write_bytes if disk else None,
            disk_reads=disk.reads if disk else None,
            disk_writes=disk.writes if disk else None,
        )
        samples = scan_processes(self._proc, self._groups) if self._groups or self._top > 0 else []
        groups = self._process_groups(prev, current, elapsed, samples)
        top = self._top_processes(prev, current, elapsed, samples, memory_total)
        usages = self._containers(prev, current, elapsed, containers, errors)
        self._prev = current
        return ResourcesFact(
            host=host,
            machine=machine,
            process_groups=groups,
            containers=usages,
            top_processes=top,
            errors=errors,
        )

    def _top_processes(
        self,
        prev: _Previous,
        current: _Previous,
        elapsed: float,
        samples: Sequence[ProcessSample],
        memory_total: int | None,
    ) -> list[ProcessUsage]:
        if self._top <= 0:
            return []
        current.ticks = {s.key: s.cpu_ticks for s in samples}
        known = prev.at is not None and elapsed > 0
        per_tick = 100 / (CLOCK_TICKS * elapsed * self._cpu_count) if known else None
        return top_processes(samples, prev.ticks, per_tick, memory_total, self._top)

    def _machine_share(self, cpu_seconds: float | None, elapsed: float) -> float | None:
        if cpu_seconds is None or elapsed <= 0:
            return None
        return share(cpu_seconds, elapsed * self._cpu_count)

    def _process_groups(
        self,
        prev: _Previous,
        current: _Previous,
        elapsed: float,
        samples: Sequence[ProcessSample],
    ) -> list[ProcessGroupUsage]:
        if not self._groups:
            return []
        result = []
        for group in self._groups:
            members = [s for s in samples if s.group == group.name]
            ticks = reads = writes = 0
            io_known = bool(members)
            for s in members:
                current.pids[s.pid] = (s.cpu_ticks, s.io)
                before = prev.pids.get(s.pid)
                # A process first seen now has no earlier reading: its CPU counts from the next.
                if before is not None:
                    ticks += max(0, s.cpu_ticks - before[0])
                    if s.io is not None and before[1] is not None:
                        reads += max(0, s.io[0] - before[1][0])
                        writes += max(0, s.io[1] - before[1][1])
                if s.io is None:
                    io_known = False
            first = prev.at is None
            cpu = None if first else self._machine_share(ticks / CLOCK_TICKS, elapsed)
            known = io_known and not first and elapsed > 0
            result.append(
                ProcessGroupUsage(
                    name=group.name,
                    pids=sorted(s.pid for s in members),
                    cpu_percent=cpu,
                    rss_bytes=sum(s.rss_bytes for s in members),
                    read_bytes_per_second=_round(reads / elapsed) if known else None,
                    write_bytes_per_second=_round(writes / elapsed) if known else None,
                )
            )
        return result

    def _containers(
        self,
        prev: _Previous,
        current: _Previous,
        elapsed: float,
        containers: Mapping[str, RunningContainer],
        errors: list[str],
    ) -> list[ContainerUsage]:
        result = []
        for cid, c in sorted(containers.items(), key=lambda kv: kv[1].name):
            cpu = rss = None
            try:
                usec = container_cpu_usec(c.cgroups)
                rss = resident_bytes(c.cgroups)
            except (OSError, ValueError) as exc:
                errors.append(f"container {c.name}: {exc}")
                usec = None
            if usec is not None:
                current.containers[cid] = usec
                before = prev.containers.get(cid)
                if before is not None and usec >= before:
                    cpu = self._machine_share((usec - before) / 1e6, elapsed)
            io_rate = by_disk = growth = memory = None
            try:
                io_bytes = container_io_by_disk(c.cgroups)
                memory = container_memory_bytes(c.cgroups)
            except (OSError, ValueError) as exc:
                errors.append(f"container {c.name}: {exc}")
                io_bytes = None
            if io_bytes is not None:
                current.container_io[cid] = io_bytes
                io_rate, by_disk = io_rates(prev.container_io.get(cid), io_bytes, elapsed)
            if memory is not None:
                current.container_memory[cid] = memory
                before_memory = prev.container_memory.get(cid)
                if before_memory is not None and elapsed > 0:
                    growth = (memory - before_memory) / elapsed
            source = c.cgroups.v2 or next(iter(c.cgroups.v1.values()), None)
            result.append(
                ContainerUsage(
                    id=cid,
                    name=c.name,
                    source=str(source or ""),
                    cpu_percent=cpu,
                    rss_bytes=rss,
                    io_bytes_per_second=_round(io_rate),
                    io_bytes_per_second_by_disk=by_disk,
                    memory_bytes=memory,
                    memory_growth_bytes_per_second=_round(growth),
                )
            )
        return result


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
