"""CPU, memory and disk I/O: parsing tables, and the real /proc, processes and containers."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from host.cgroups.view import ProcessCgroups, detect_layout, process_cgroups
from services.sensors.proc_stats import (
    CpuTimes,
    DiskCounters,
    io_rates,
    parse_diskstats,
    parse_meminfo,
    parse_proc_stat,
    rate,
    share,
)
from services.sensors.processes import (
    CLOCK_TICKS,
    PAGE_BYTES,
    ProcessSample,
    ProcParseError,
    parse_pid_io,
    parse_pid_stat,
    scan_processes,
    top_processes,
)
from services.sensors.resources import (
    ResourceSampler,
    RunningContainer,
    container_io_by_disk,
    physical_disks,
)
from shared.config.model import ProcessGroup, WardenConfig
from tests.support.disks import loop_disk
from tests.support.docker_env import Containers

STAT = "cpu  100 5 50 800 40 3 2 0 7 0\ncpu0 50 2 25 400 20 1 1 0 3 0\nintr 1 2 3\n"


def test_proc_stat() -> None:
    # busy = total - idle - iowait; guest (7) is already inside user and not added again
    assert parse_proc_stat(STAT) == CpuTimes(busy=160, total=1000)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("intr 1\n", "no aggregate cpu line"),
        ("cpu  1 x 3 4\n", "bad cpu line"),
        ("cpu  1 2\n", "needs 4"),
    ],
)
def test_proc_stat_garbage(text: str, why: str) -> None:
    with pytest.raises(ProcParseError, match=why):
        parse_proc_stat(text)


MEMINFO = "MemTotal:       24683880 kB\nMemFree:        1 kB\nMemAvailable:   20000000 kB\n"


def test_meminfo() -> None:
    assert parse_meminfo(MEMINFO) == (24683880 * 1024, 20000000 * 1024)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("MemTotal: 10 kB\n", "no MemAvailable"),
        ("MemTotal: x kB\nMemAvailable: 1 kB\n", "bad MemTotal"),
        ("MemTotal: 10 kB\nMemAvailable: 11 kB\n", "outside"),
    ],
)
def test_meminfo_garbage(text: str, why: str) -> None:
    with pytest.raises(ProcParseError, match=why):
        parse_meminfo(text)


DISKSTATS = """\
 253       0 vda 1000 0 2000 0 500 0 4000 0 0 0 0 0 0 0 0 0 0
 253       1 vda1 900 0 1800 0 400 0 3000 0 0 0 0 0 0 0 0 0 0
   7       0 loop0 10 0 80 0 0 0 0 0 0 0 0 0 0 0 0 0 0
 259       0 nvme0n1 1 0 10 0 1 0 20 0 0 0 0 0 0 0 0 0 0
"""


@pytest.mark.parametrize(
    ("disks", "expect"),
    [
        (["vda"], DiskCounters(2000 * 512, 4000 * 512, 1000, 500)),
        (["vda", "nvme0n1"], DiskCounters(2010 * 512, 4020 * 512, 1001, 501)),
        ([], DiskCounters()),
    ],
)
def test_diskstats_counts_only_whole_physical_disks(disks: list[str], expect: DiskCounters) -> None:
    assert parse_diskstats(DISKSTATS, disks) == expect


def test_pid_stat_with_a_hostile_comm() -> None:
    # comm may hold spaces and ')': everything after the last ')' is the fields
    fields = ["S"] + ["0"] * 10 + ["250", "50"] + ["0"] * 8 + ["1000"] + ["0"] * 20
    stat = parse_pid_stat("42 (evil) name) " + " ".join(fields))
    assert stat.comm == "evil) name" and stat.cpu_ticks == 300
    assert stat.rss_bytes == 1000 * PAGE_BYTES


def test_pid_stat_garbage() -> None:
    with pytest.raises(ProcParseError):
        parse_pid_stat("42 (x) S 1 2")
    with pytest.raises(ProcParseError):
        parse_pid_stat("no parentheses")


def test_pid_io() -> None:
    text = "rchar: 10\nwchar: 20\nsyscr: 1\nsyscw: 1\nread_bytes: 4096\nwrite_bytes: 8192\n"
    assert parse_pid_io(text) == (4096, 8192)
    with pytest.raises(ProcParseError):
        parse_pid_io("rchar: 10\n")


@pytest.mark.parametrize(
    ("previous", "current", "seconds", "expect"),
    [(None, 5, 1, None), (0, 10, 2, 5.0), (10, 5, 1, None), (0, 10, 0, None), (3, 3, 1, 0.0)],
)
def test_rate(previous: float | None, current: float, seconds: float, expect: float | None) -> None:
    assert rate(previous, current, seconds) == expect


@pytest.mark.parametrize(
    ("previous", "current", "expect"),
    [
        # The first reading has no rate.
        (None, {"8:0": 10}, (None, None)),
        # Per disk that moved; one first listed now counts from 0; one that did not move
        # is left out.
        (
            {"8:0": 0, "8:16": 50},
            {"8:0": 20, "8:16": 50, "7:0": 4},
            (12.0, {"7:0": 2.0, "8:0": 10.0}),
        ),
        ({}, {}, (0.0, {})),
        # A counter that went back (a reset) is unknown, all told and per disk.
        ({"8:0": 30}, {"8:0": 10}, (None, None)),
        ({"8:0": 30, "8:16": 0}, {"8:0": 10, "8:16": 40}, (10.0, None)),
    ],
)
def test_io_rates(
    previous: dict[str, int] | None, current: dict[str, int], expect: tuple[object, object]
) -> None:
    assert io_rates(previous, current, 2.0) == expect


def test_io_counters_per_disk_from_v2_io_stat_and_v1_blkio(tmp_path: Path) -> None:
    v2, v1 = tmp_path / "v2", tmp_path / "blkio"
    v2.mkdir()
    v1.mkdir()
    (v2 / "io.stat").write_text(
        "8:0 rbytes=4096 wbytes=1000 rios=1 wios=1 dbytes=0 dios=0\n7:0 rbytes=0 wbytes=24\n\n"
    )
    (v1 / "blkio.throttle.io_service_bytes").write_text(
        "8:0 Read 4096\n8:0 Write 1000\n8:0 Sync 5096\n8:0 Total 5096\n7:0 Write 24\nTotal 5120\n"
    )
    expected = {"8:0": 5096, "7:0": 24}
    assert container_io_by_disk(ProcessCgroups(v2, {})) == expected
    assert container_io_by_disk(ProcessCgroups(None, {"blkio": v1})) == expected
    assert container_io_by_disk(ProcessCgroups(None, {})) is None


@pytest.mark.parametrize(
    ("busy", "total", "expect"),
    [(50, 100, 50.0), (0, 100, 0.0), (None, 100, None), (5, 0, None), (150, 100, 100.0)],
)
def test_share(busy: float | None, total: float, expect: float | None) -> None:
    assert share(busy, total) == expect


def test_process_group_config() -> None:
    cfg = WardenConfig.model_validate(
        {"process_groups": [{"name": "enc", "match_name": ["ffmpeg"]}]}
    )
    assert cfg.process_groups[0].name == "enc"
    assert WardenConfig().process_groups == []
    for bad, why in [
        ({"name": "x"}, "needs match_name or match_cmdline"),
        ({"name": "x", "match_cmdline": ["("]}, "bad regular expression"),
    ]:
        with pytest.raises(ValueError, match=why):
            WardenConfig.model_validate({"process_groups": [bad]})
    with pytest.raises(ValueError, match="unique"):
        WardenConfig.model_validate({"process_groups": [{"name": "x", "match_name": ["a"]}] * 2})


def test_fake_tree_first_reading_has_no_rates(tmp_path: Path) -> None:
    proc, sys_root = tmp_path / "proc", tmp_path / "sys"
    proc.mkdir()
    (proc / "stat").write_text(STAT)
    (proc / "meminfo").write_text(MEMINFO)
    (proc / "diskstats").write_text(DISKSTATS)
    (sys_root / "block/vda/device").mkdir(parents=True)
    (sys_root / "block/loop0").mkdir(parents=True)
    assert physical_disks(sys_root) == ["vda"]
    sampler = ResourceSampler(proc, sys_root, [], cpu_count=2)
    first = sampler.sample("h", 0.0, {})
    assert first.machine.cpu_percent is None and first.machine.disk_read_bytes_per_second is None
    assert first.machine.memory_total_bytes == 24683880 * 1024
    (proc / "stat").write_text("cpu  200 5 50 850 40 3 2 0 7 0\n")  # +100 busy of +150
    (proc / "diskstats").write_text(DISKSTATS.replace("vda 1000 0 2000", "vda 1000 0 4000"))
    second = sampler.sample("h", 2.0, {})
    assert second.machine.cpu_percent == pytest.approx(66.7)
    assert second.machine.disk_read_bytes_per_second == 2000 * 512 / 2
    assert second.machine.disk_write_bytes_per_second == 0
    # Operations per second (reads completed 1000 -> 1400) and the counters since boot.
    (proc / "diskstats").write_text(DISKSTATS.replace("vda 1000 0 2000", "vda 1400 0 4000"))
    third = sampler.sample("h", 4.0, {})
    assert third.machine.disk_reads_per_second == 200 and third.machine.disk_writes_per_second == 0
    assert (third.machine.disk_reads, third.machine.disk_read_bytes) == (1400, 4000 * 512)
    assert third.machine.memory_used_bytes == (24683880 - 20000000) * 1024
    assert second.errors == []


def sample(
    pid: int, ticks: int, rss: int, start: int = 1, group: str | None = None
) -> ProcessSample:
    return ProcessSample(pid, None, ticks, rss, None, f"p{pid}", start)


@pytest.mark.parametrize(
    ("samples", "previous", "count", "expect"),
    [
        # The first sample: no CPU yet, the largest by memory only.
        ([sample(1, 10, 100), sample(2, 10, 300)], {}, 1, [(2, None, 300)]),
        # Busiest by CPU first, then the largest by memory not already listed.
        (
            [sample(1, 50, 100), sample(2, 12, 900), sample(3, 30, 500), sample(4, 10, 50)],
            {(1, 1): 10, (2, 1): 10, (3, 1): 10, (4, 1): 10},
            2,
            [(1, 40.0, 100), (3, 20.0, 500), (2, 2.0, 900)],
        ),
        # A reused pid (another start time) has no earlier reading: no CPU, never a jump.
        ([sample(1, 90, 100, start=2)], {(1, 1): 10}, 1, [(1, None, 100)]),
        # Idle processes are not "busiest by CPU"; none at all: none listed.
        ([sample(1, 10, 0)], {(1, 1): 10}, 3, []),
        ([sample(1, 10, 100)], {}, 0, []),
    ],
)
def test_top_processes(
    samples: list[ProcessSample],
    previous: dict[tuple[int, int], int],
    count: int,
    expect: list[tuple[int, float | None, int]],
) -> None:
    # One tick per second is 1 % of the machine here; memory is of 1000 bytes.
    top = top_processes(samples, previous, 1.0 if previous else None, 1000, count)
    assert [(p.pid, p.cpu_percent, p.rss_bytes) for p in top] == expect
    assert all(p.memory_percent == round(p.rss_bytes / 10, 1) for p in top)


def test_unreadable_proc_is_unknown_with_the_reason(tmp_path: Path) -> None:
    fact = ResourceSampler(tmp_path, tmp_path, []).sample("h", 0.0, {})
    assert fact.machine.cpu_percent is None and fact.machine.memory_total_bytes is None
    joined = " ".join(fact.errors)
    assert "cpu:" in joined and "memory:" in joined and "disk:" in joined


def test_this_machines_host_and_a_real_process_group() -> None:
    marker = f"warden-test-{time.monotonic_ns()}"
    burner = subprocess.Popen(
        [sys.executable, "-c", "import sys\nwhile True: pass", marker],
    )
    try:
        group = ProcessGroup(name="burner", match_cmdline=[marker])
        sampler = ResourceSampler("/proc", "/sys", [group], top=3)
        sampler.sample("here", time.monotonic(), {})
        time.sleep(1.0)
        fact = sampler.sample("here", time.monotonic(), {})
    finally:
        burner.kill()
        burner.wait()
    machine = fact.machine
    assert machine.cpu_percent is not None and machine.cpu_percent > 0
    assert machine.memory_total_bytes and machine.memory_available_bytes is not None
    if physical_disks("/sys"):
        assert machine.disk_read_bytes_per_second is not None
    (usage,) = fact.process_groups
    assert usage.pids == [burner.pid]
    # A busy loop uses about one CPU; with scheduling noise on a shared machine, say > 0.
    assert usage.cpu_percent is not None and usage.cpu_percent > 0
    assert usage.rss_bytes and usage.rss_bytes > 0
    assert usage.read_bytes_per_second is not None  # root may read /proc/<pid>/io
    assert CLOCK_TICKS > 0
    # The busy loop is among the busiest processes, named by comm, with its group.
    assert len(fact.top_processes) <= 6
    busiest = {p.pid: p for p in fact.top_processes}
    assert burner.pid in busiest, fact.top_processes
    assert busiest[burner.pid].group == "burner" and busiest[burner.pid].name.startswith("python")
    assert machine.memory_used_bytes and machine.memory_used_bytes < machine.memory_total_bytes


def test_a_real_containers_cpu_and_memory(containers: Containers) -> None:
    cid = containers.run("burn", ("sh", "-c", "while :; do :; done"))
    layout = detect_layout("/sys/fs/cgroup")
    cgroups = process_cgroups(layout, "/proc", containers.pid(cid))
    running = {cid: RunningContainer(cid, containers.name("burn"), cgroups)}
    sampler = ResourceSampler("/proc", "/sys", [])
    sampler.sample("here", time.monotonic(), running)
    time.sleep(1.0)
    fact = sampler.sample("here", time.monotonic(), running)
    (usage,) = fact.containers
    assert usage.id == cid and usage.name == containers.name("burn")
    assert usage.cpu_percent is not None and usage.cpu_percent > 0
    assert usage.rss_bytes is not None
    assert cid in usage.source


def test_a_real_containers_io_is_told_per_disk(containers: Containers, tmp_path: Path) -> None:
    """Direct writes to a disk of its own (a loop device bind-mounted in) are counted on it."""
    with loop_disk(tmp_path) as disk:
        cid = containers.run(
            "writer",
            (
                "sh",
                "-c",
                "while :; do dd if=/dev/zero of=/media/f bs=64k count=16 oflag=direct; done",
            ),
            binds={str(disk.mountpoint): {"bind": "/media", "mode": "rw"}},
        )
        cgroups = process_cgroups(detect_layout("/sys/fs/cgroup"), "/proc", containers.pid(cid))
        running = {cid: RunningContainer(cid, containers.name("writer"), cgroups)}
        sampler = ResourceSampler("/proc", "/sys", [])
        sampler.sample("here", time.monotonic(), running)
        time.sleep(1.0)
        (usage,) = sampler.sample("here", time.monotonic(), running).containers
        containers.api.remove_container(cid, force=True)
    by_disk = usage.io_bytes_per_second_by_disk
    assert by_disk is not None and by_disk.get(disk.number, 0) > 0
    assert usage.io_bytes_per_second == pytest.approx(sum(by_disk.values()), abs=1)


def test_each_cpu_s_own_use_from_the_real_proc_stat() -> None:
    from services.sensors.proc_stats import parse_proc_stat_cores

    cores = parse_proc_stat_cores(Path("/proc/stat").read_text())
    assert cores and all(name.startswith("cpu") and name[3:].isdigit() for name in cores)
    sampler = ResourceSampler("/proc", "/sys", [])
    first = sampler.sample("here", time.monotonic(), {})
    assert first.machine.cpu_per_core_percent is None  # a rate needs two readings
    time.sleep(0.5)
    per_core = sampler.sample("here", time.monotonic(), {}).machine.cpu_per_core_percent
    assert per_core is not None and len(per_core) == len(cores)
    assert all(0 <= value <= 100 for value in per_core)


def test_a_group_s_workers_count_as_the_group_s_own_use(tmp_path: Path) -> None:
    """As the actuator pauses them: a wrapper's children are in its group, so their CPU is
    never counted against the group as everyone else's."""
    fields = ["S", "{ppid}"] + ["0"] * 9 + ["{ticks}", "0"] + ["0"] * 6 + ["5", "0", "10"]
    for pid, ppid, comm in ((10, 1, "wrapper"), (11, 10, "ffmpeg"), (12, 1, "other")):
        entry = tmp_path / str(pid)
        entry.mkdir()
        line = " ".join(fields).format(ppid=ppid, ticks=pid * 100)
        (entry / "stat").write_text(f"{pid} ({comm}) {line}")
        (entry / "cmdline").write_bytes(comm.encode() + b"\0")
        (entry / "io").write_text("read_bytes: 0\nwrite_bytes: 0\n")
    group = ProcessGroup(name="enc", match_name=["wrapper"])
    samples = {s.pid: s.group for s in scan_processes(tmp_path, [group])}
    assert samples == {10: "enc", 11: "enc", 12: None}
