"""A stream's latency under a bulk hog: no governor, Warden with ADRG's rules only, Warden with
protect, side by side in one run, for an io, a cpu and a memory hog.

The stream is bench/stream_probe.py (a job every 10 ms) moved into a tier-1
container's cgroups; the hog runs in a tier-3 container. For each kind and
mode: the hog runs while the stream is idle (what the hog keeps when nothing
needs protecting); then the host is left to calm down (no limit left on the hog,
the resource's host avg10 low again), so that no mode starts with another's
leftovers; then the stream runs alone (its baseline p99), then the hog starts
under it: the stream's p99 per second after the hog starts, the first second
from which it stays within 2x of its baseline, when the first limit reached the
hog, and the hog's throughput (bytes for io, CPU time otherwise) as a share of
the no-governor run's. Needs the Docker engine, PSI and the test image (tests
create it). The numbers are as noisy as the machine they run on: compare the
rows of one run. --explain prints, for each second after the hog starts that is over
2x, its slow jobs with how long each waited for a CPU (the kernel's schedstat) and what
the kernel had the stream waiting in (sampled from /proc/<pid>/stack), beside the CPU
time every other process used in that second and the hypervisor's steal: whose the
slow second was. --modes runs a subset of the modes (none among them).

The memory hog grows a file in a tmpfs of its own (memory no reclaim can take back,
with no swap) 256 KiB at a time, as a transcoder's or a download client's memory
grows, and starts again from nothing once it holds HOG_PEAK_MB. A home server's
memory is the whole machine's, which a benchmark cannot fill safely: here the stream
and the hog share a parent cgroup limited to MEMORY_LIMIT_MB, in which the hog's peak
leaves too little for the stream's cached media (STREAM_CACHE_MB, read through the
page cache), so the kernel evicts the stream's cache to make room for the hog.

The io hog rewrites one big file on a bind mount with direct I/O, as a
transcoder writes new files and deletes old ones: its blocks are allocated and
freed again every pass, and what contends is the filesystem's journal as much
as the disk. The "quiet" row is the stream with no hog at all: the machine's
own noise, measured in the same run.

    .venv/bin/python -m bench.protect_stream [--kinds io,cpu,memory] [--hog-seconds 10]
                                            [--runs 1] [--explain] [--modes none,protect]
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from bench.rig import HOST, Rig
from host.cgroups.view import (
    CgroupLayout,
    ProcessCgroups,
    detect_layout,
    process_cgroups,
    read_flat_keyed,
)
from services.sensors.resources import container_cpu_usec, container_io_by_disk
from shared.messages import ContainerIntent, DesiredState, PressureFact
from shared.units import MB_PER_SEC
from tests.support.processes import wait_until

REPO = Path(__file__).resolve().parents[1]
# The memory hog's cgroup parent, shared with the stream and limited: the hog at its peak
# and the stream's cache do not fit in it together, and the kernel evicts the cache; the
# hog alone fits, beside the few MiB the stream holds besides its cache, so nothing is
# killed for memory.
MEMORY_PARENT = "warden-bench-memory"
MEMORY_LIMIT_MB = 512
HOG_PEAK_MB = 440
STREAM_CACHE_MB = 160
# In the rig's directory, which it keeps for the services' logs: removed at the end.
MEDIA_FILE = "media"
HOGS = {
    "io": "while :; do dd if=/dev/zero of=/data/hog bs=1M count=256 oflag=direct 2>/dev/null; done",
    "cpu": "while :; do :; done & while :; do :; done",
    "memory": (
        f"while :; do i=0; while [ $i -lt {HOG_PEAK_MB * 4} ]; do"
        " dd if=/dev/zero of=/mnt/f bs=256K count=1 seek=$i conv=notrunc 2>/dev/null;"
        " i=$((i+1)); done; rm -f /mnt/f; done"
    ),
}
# quiet: no hog, no governor (the machine's own noise); none: the hog, no governor;
# adrg: Warden with protect off; protect: Warden as configured by default;
# protect-only: protect with ADRG's io rule off, which caps any busy tier 3, stream or not.
MODES = ("quiet", "none", "adrg", "protect", "protect-only")
IDLE_SECONDS = 6.0
BASELINE_SECONDS = 4.0
# Calm enough to start a mode: below ADRG's io recovery threshold, well below its cpu one.
CALM_AVG10 = 10.0
CALM_TIMEOUT = 120.0
# Blocks freed by a hog are discarded at the next journal commit (ext4: every 5 s), stalling
# every writer: a mode starts after that.
SETTLE_SECONDS = 6.0
JOINED = ("cpu", "cpuacct", "blkio", "memory")


def join_cgroups(pid: int, cg: ProcessCgroups) -> None:
    """Move a host process into the container's cgroups: it stalls, and is counted, as the
    container's own processes are."""
    directories = [d for c, d in cg.v1.items() if c in JOINED]
    if cg.v2 is not None:
        directories.append(cg.v2)
    for directory in directories:
        (directory / "cgroup.procs").write_text(str(pid))


def procs_file(cg: ProcessCgroups) -> Path:
    """The file that lists a container's processes."""
    if (v1 := cg.v1_file("cpu", "cgroup.procs")) is not None:
        return v1
    assert cg.v2 is not None
    return cg.v2 / "cgroup.procs"


def work(kind: str, cg: ProcessCgroups) -> float:
    if kind == "io":
        return float(sum((container_io_by_disk(cg) or {}).values()))
    return float(container_cpu_usec(cg) or 0)


def host_avg10(resource: str) -> float:
    line = Path(f"/proc/pressure/{resource}").read_text().splitlines()[0]
    return float(line.split()[1].removeprefix("avg10="))


def desired_states(rig: Rig) -> list[tuple[float, dict[str, ContainerIntent]]]:
    """(arrival, the intents by container) of every desired state the probe has seen."""
    return [
        (seen.at, DesiredState.model_validate_json(seen.payload).containers)
        for seen in rig.probe.messages(f"warden/{HOST}/desired")
    ]


def hog_intents(
    rig: Rig, hog_name: str, after: float
) -> list[tuple[float, ContainerIntent | None]]:
    """(arrival, the hog's intent) of each desired state since `after`."""
    return [(at, states.get(hog_name)) for at, states in desired_states(rig) if at >= after]


# The limits that act on each kind of hog: cpu.idle on an io hog is not what freed the
# disk, and is on from the moment the stream plays, before any hog starts.
LIMITS_OF = {
    "io": ("paused", "io_max"),
    "cpu": ("paused", "cpu_max", "cpu_idle"),
    "memory": ("paused", "memory_high", "cpu_max"),
}


def hog_limits(rig: Rig, kind: str, hog_name: str, after: float) -> list[tuple[float, bool]]:
    """(arrival, limited for this kind) of each desired state since `after`, for the hog."""
    return [
        (at, i is not None and any(getattr(i, k) for k in LIMITS_OF[kind]))
        for at, i in hog_intents(rig, hog_name, after)
    ]


def timeline(rig: Rig, kind: str, names: tuple[str, str], hog_at: float) -> list[str]:
    """Since the hog started: each change of the hog's limits, each PSI trigger, and the
    stream's own stall share as the sensors published it."""
    stream_name, hog_name = names
    lines = []
    states = desired_states(rig)
    for (_, before), (at, after) in itertools.pairwise(states):
        changed = sorted(n for n in before.keys() | after.keys() if before.get(n) != after.get(n))
        if at >= hog_at and changed != [hog_name]:
            lines.append(f"  {at - hog_at:6.2f} state  changed for {', '.join(changed) or 'none'}")
    for at, intent in ((at, c.get(hog_name)) for at, c in states if at >= hog_at):
        what = "none"
        if intent is not None:
            io, cpu = intent.io_max, intent.cpu_max
            what = " ".join(
                part
                for part in (
                    "paused" if intent.paused else "",
                    f"io.max={io.write_bps / MB_PER_SEC:.1f}MiB/s" if io and io.write_bps else "",
                    f"cpu.max={cpu.quota_us}/{cpu.period_us}" if cpu else "",
                    "cpu.idle" if intent.cpu_idle else "",
                    "; ".join(str(r) for r in intent.reasons),
                )
                if part
            )
        lines.append(f"  {at - hog_at:6.2f} limit  {what}")
    for seen in rig.probe.messages(f"warden/{HOST}/sensors/pressure"):
        if seen.at >= hog_at:
            fact = PressureFact.model_validate_json(seen.payload)
            scopes = sorted({f"{f.scope[:8]} {f.resource}" for f in fact.fired})
            if scopes:
                lines.append(f"  {seen.at - hog_at:6.2f} fired  {', '.join(scopes)}")
            shares = [
                f"{st.some_percent:.1f}% over {st.seconds:g}s"
                for c in fact.containers
                if c.name == stream_name
                for st in c.stall
                if st.resource == kind
            ]
            if shares:
                lines.append(f"  {seen.at - hog_at:6.2f} stall  {kind} {shares[0]}")
    return sorted(lines, key=lambda ln: float(ln.split()[0]))


def first_limit(marks: list[tuple[float, bool]], hog_at: float) -> float | None:
    """Seconds from the hog's start to its first limit; 0 when one was on it already (cpu
    and io yields start with the stream, before any hog)."""
    before = [on for at, on in marks if at < hog_at]
    if before and before[-1]:
        return 0.0
    return next((at - hog_at for at, on in marks if at >= hog_at and on), None)


def wait_calm(rig: Rig, kind: str, hog_name: str, governed: bool) -> None:
    """Until no limit is left on the hog and the host's avg10 for the resource is low."""
    time.sleep(SETTLE_SECONDS)
    deadline = time.monotonic() + CALM_TIMEOUT
    while time.monotonic() < deadline:
        marks = hog_limits(rig, kind, hog_name, 0.0)
        free = not governed or not marks or not marks[-1][1]
        if free and host_avg10(kind) < CALM_AVG10:
            return
        time.sleep(1.0)
    raise TimeoutError(f"{kind}: the host did not calm down within {CALM_TIMEOUT:g}s")


def limit_parent(layout: CgroupLayout) -> None:
    """Create the memory hog's shared parent cgroup with its limit (Docker puts the stream
    and the hog under it: cgroup_parent)."""
    limit = str(MEMORY_LIMIT_MB << 20)
    if (v1 := layout.v1_mounts.get("memory")) is not None:
        (v1 / MEMORY_PARENT).mkdir(exist_ok=True)
        (v1 / MEMORY_PARENT / "memory.limit_in_bytes").write_text(limit)
    else:
        assert layout.v2_mount is not None
        (layout.v2_mount / MEMORY_PARENT).mkdir(exist_ok=True)
        (layout.v2_mount / MEMORY_PARENT / "memory.max").write_text(limit)


def remove_parent(layout: CgroupLayout) -> None:
    """The parent, in every hierarchy Docker made it in (devices and name=systemd too, which
    Warden's layout does not list), once its containers are gone."""
    for directory in [*layout.root.glob(f"*/{MEMORY_PARENT}"), layout.root / MEMORY_PARENT]:
        for _ in range(50):  # a removed container's cgroup goes a moment after it
            try:
                directory.rmdir()
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.1)


def media_file(rig: Rig) -> Path:
    """The stream's media for the memory hog, written once and dropped from the page cache
    each mode, so that the stream's own reads cache it, charged to the stream."""
    media = rig.workdir / MEDIA_FILE
    if not media.exists():
        with media.open("wb") as f:
            for _ in range(STREAM_CACHE_MB):
                f.write(os.urandom(1 << 20))
            os.fsync(f.fileno())
    fd = os.open(media, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
    return media


def page_cache_bytes(cg: ProcessCgroups) -> int | None:
    """The page cache charged to a container's memory cgroup (v2 memory.stat file, v1
    total_cache), read as host.cgroups.view.resident_bytes reads its anon."""
    if (stat := cg.v2_file("memory.stat")) is not None:
        return read_flat_keyed(stat).get("file")
    if (stat := cg.v1_file("memory", "memory.stat")) is not None:
        values = read_flat_keyed(stat)
        return values.get("total_cache", values.get("cache"))
    return None


class CacheSampler:
    """The stream's page cache every quarter second (memory hog): that the hog really took
    it, whatever that cost the stream on this machine's disk."""

    PERIOD = 0.25

    def __init__(self, cg: ProcessCgroups) -> None:
        self.samples: list[tuple[float, int]] = []
        self._cg = cg
        self._stop = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while not self._stop.wait(self.PERIOD):
            if (cached := page_cache_bytes(self._cg)) is not None:
                self.samples.append((time.monotonic(), cached))

    def stop(self) -> None:
        self._stop.set()

    def mib(self, start: float, end: float, pick: Callable[[list[int]], int]) -> float | None:
        inside = [v for t, v in self.samples if start <= t < end]
        return pick(inside) / (1 << 20) if inside else None


class StackSampler:
    """What the kernel has a process waiting in, every millisecond (for --explain)."""

    def __init__(self, pid: int) -> None:
        self.samples: list[tuple[float, str]] = []
        self._stop = threading.Event()
        self._path = Path(f"/proc/{pid}/stack")
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                text = self._path.read_text()
            except OSError:
                return
            frames = [ln.split("] ", 1)[1].split("+")[0] for ln in text.splitlines() if "] " in ln]
            self.samples.append((time.monotonic(), " < ".join(frames[:3]) or "running"))
            time.sleep(0.001)

    def stop(self) -> None:
        self._stop.set()

    def waiting_in(self, start: float, seconds: float) -> str:
        counts = Counter(f for t, f in self.samples if start <= t <= start + seconds)
        return ", ".join(f"{frame} ({n})" for frame, n in counts.most_common(2))


class CpuByProcess:
    """Every quarter second, the CPU time of every process on the host but the hog's (for
    --explain): who else ran in a slow second, on a machine of two cores."""

    PERIOD = 0.25

    def __init__(self, hog_procs: Path) -> None:
        self.snapshots: list[tuple[float, dict[str, int]]] = []
        self._hog_procs = hog_procs
        self._names: dict[int, str] = {}
        self._stop = threading.Event()
        self._ticks = os.sysconf("SC_CLK_TCK")
        threading.Thread(target=self._run, daemon=True).start()

    def _name(self, pid: int, comm: str) -> str:
        if pid not in self._names:
            try:
                argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                argv = []
            # Warden's services by name, and the benchmark's own two pythons (the stream
            # probe, and this one, whose sampling threads cost it) apart from any other.
            ours = (b"services.", b"bench.")
            module = next((a.decode() for a in argv if a.startswith(ours)), None)
            self._names[pid] = module.removeprefix("services.") if module else comm
        return self._names[pid]

    def _snapshot(self) -> dict[str, int]:
        try:
            hog = set(self._hog_procs.read_text().split())
        except OSError:
            hog = set()
        used: Counter[str] = Counter()
        # The hypervisor's share of this VM's time, as /proc/stat counts it (all CPUs).
        used["(steal)"] = int(Path("/proc/stat").read_text().split()[8])
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or entry.name in hog:
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            comm, rest = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2 :]
            fields = rest.split()
            used[self._name(int(entry.name), comm)] += int(fields[11]) + int(fields[12])
        return dict(used)

    def _run(self) -> None:
        while not self._stop.wait(self.PERIOD):
            self.snapshots.append((time.monotonic(), self._snapshot()))

    def stop(self) -> None:
        self._stop.set()

    def top(self, start: float, seconds: float, n: int = 4) -> str:
        """The n processes that used most CPU from start for seconds, in ms."""
        inside = [(t, s) for t, s in self.snapshots if start - self.PERIOD <= t <= start + seconds]
        if len(inside) < 2:
            return ""
        (t0, first), (t1, last) = inside[0], inside[-1]
        used = Counter({k: v - first.get(k, 0) for k, v in last.items()})
        scale = 1000 / self._ticks / (t1 - t0) * seconds
        return ", ".join(f"{k} {v * scale:.0f}" for k, v in used.most_common(n) if v > 0)


def stays_within(seconds: list[float], baseline: float) -> int | None:
    """The first second from which every second's p99 is within 2x of the baseline."""
    return next(
        (n + 1 for n in range(len(seconds)) if all(v <= 2 * baseline for v in seconds[n:])), None
    )


@dataclass(frozen=True)
class Run:
    """One mode's run: the stream's baseline and per-second p99s (s), when the first limit
    reached the hog (s after it started), and the hog's rate while the stream was idle
    and while it played (bytes or CPU-µs a second); for the memory hog, the stream's page
    cache (MiB) in its baseline and the lowest it fell to under the hog."""

    baseline: float
    seconds: list[float]
    limited: float | None
    idle_rate: float
    busy_rate: float
    cached_mib: tuple[float | None, float | None] = (None, None)

    @property
    def within(self) -> int | None:
        return stays_within(self.seconds, self.baseline)

    @property
    def over(self) -> int:
        return sum(v > 2 * self.baseline for v in self.seconds)


@dataclass(frozen=True)
class Summary:
    """A mode over its runs: each number the median over the runs, so that the machine's
    own hiccups, which land on one run's second and not the next's, drop out; and each
    run's own verdict beside it, the quiet row's saying how often the machine alone
    puts a second over 2x."""

    median: Run
    each_within: list[int | None]
    over: int
    of: int


def median_known(values: Iterable[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def median_of(runs: list[Run]) -> Summary:
    median = Run(
        baseline=statistics.median(r.baseline for r in runs),
        seconds=[statistics.median(s) for s in zip(*(r.seconds for r in runs), strict=True)],
        limited=median_known(r.limited for r in runs),
        idle_rate=statistics.median(r.idle_rate for r in runs),
        busy_rate=statistics.median(r.busy_rate for r in runs),
        cached_mib=(
            median_known(r.cached_mib[0] for r in runs),
            median_known(r.cached_mib[1] for r in runs),
        ),
    )
    return Summary(
        median=median,
        each_within=[r.within for r in runs],
        over=sum(r.over for r in runs),
        of=sum(len(r.seconds) for r in runs),
    )


def p99(values: list[float]) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


def run_one(rig: Rig, kind: str, mode: str, attempt: int, hog_seconds: float, explain: bool) -> Run:
    api, containers = rig.api, rig.containers
    assert api is not None and containers is not None
    tag = f"{kind}-{mode}-{attempt}"
    # Outside the container's own tree, so removing the container frees nothing big.
    data = rig.workdir / "hogdata"
    data.mkdir(exist_ok=True)
    hog_file = data / "hog"
    extra: dict[str, object] = {"binds": {str(data): {"bind": "/data", "mode": "rw"}}}
    layout = detect_layout("/sys/fs/cgroup")
    shared: dict[str, object] = {}
    if kind == "memory":
        limit_parent(layout)
        shared["cgroup_parent"] = f"/{MEMORY_PARENT}"
        extra["tmpfs"] = {"/mnt": f"size={HOG_PEAK_MB + 64}m"}
    stream = containers.run(f"stream-{tag}", **shared)
    hog = containers.run(f"hog-{tag}", ("sleep", "3600"), **extra, **shared)
    stream_name, hog_name = containers.name(f"stream-{tag}"), containers.name(f"hog-{tag}")
    stream_cg = process_cgroups(layout, "/proc", containers.pid(stream))
    hog_cg = process_cgroups(layout, "/proc", containers.pid(hog))
    services = []
    governed = mode not in ("quiet", "none")
    if governed:
        config = rig.config(
            general={"poll_interval_seconds": 1},
            tiers={
                1: {"containers": [stream_name]},
                3: {"containers": [hog_name]},
            },
            protect={"enabled": mode.startswith("protect")},
            io_pressure={"enabled": mode != "protect-only"},
            actuator={"state_file": str(rig.workdir / f"state-{tag}.json")},
        )
        services = [rig.service(n, config) for n in ("sensors", "governor", "actuator")]
        rig.probe.wait_for(
            f"warden/{HOST}/applied",
            lambda s: b'"mode":"desired"' in s.payload,
            timeout=60,
            after=time.monotonic(),
        )
    idle = rig.workdir / f"idle-{tag}"
    idle.touch()
    out = rig.workdir / f"jobs-{tag}.txt"
    ready = rig.workdir / f"ready-{tag}"
    reads = ["--read", str(ready)] if kind == "memory" else []
    media = media_file(rig) if kind == "memory" else rig.workdir / f"seg-{tag}"
    probe = subprocess.Popen(
        [sys.executable, "-m", "bench.stream_probe", "--file", str(media), "--idle", str(idle),
         "--out", str(out), *(["--run-delay"] if explain else []), *reads],
        cwd=REPO,
    )  # fmt: skip
    join_cgroups(probe.pid, stream_cg)
    sampler = StackSampler(probe.pid) if explain else None
    others = CpuByProcess(procs_file(hog_cg)) if explain else None
    cache = CacheSampler(stream_cg) if kind == "memory" else None

    def start_hog() -> None:
        if mode == "quiet":
            return
        api.exec_start(api.exec_create(hog, ["sh", "-c", HOGS[kind]])["Id"], detach=True)

    def stop_hog() -> None:
        # busybox's sh has kill built in; -1 spares pid 1 (the container's sleep) and the
        # shell itself, which then frees the memory hog's tmpfs file.
        api.exec_start(api.exec_create(hog, ["sh", "-c", "kill -9 -1; rm -f /mnt/f"])["Id"])

    try:
        start_hog()
        time.sleep(1.0)
        before = work(kind, hog_cg)
        time.sleep(IDLE_SECONDS - 1.0)
        idle_rate = (work(kind, hog_cg) - before) / (IDLE_SECONDS - 1.0)
        stop_hog()
        # Freed now, its blocks are discarded while the host settles: left, the hog's first
        # pass would free them, and every mode's first second would pay the idle phase's debt.
        hog_file.unlink(missing_ok=True)
        wait_calm(rig, kind, hog_name, governed)
        idle.unlink()
        if reads:
            wait_until(ready.exists, timeout=60, what="the stream's media cached")
        baseline_from = time.monotonic()
        time.sleep(BASELINE_SECONDS)
        hog_at = time.monotonic()
        before = work(kind, hog_cg)
        start_hog()
        time.sleep(hog_seconds)
        busy_rate = (work(kind, hog_cg) - before) / hog_seconds
        end = time.monotonic()
    finally:
        if sampler is not None:
            sampler.stop()
        if others is not None:
            others.stop()
        if cache is not None:
            cache.stop()
        probe.terminate()
        probe.wait(30)
        stop_hog()
        for service in services:
            service.stop()
        rig._services = [s for s in rig._services if s not in services]
        # Each mode starts with a fresh Warden: the next governor would take up this one's
        # memory (restart continuity), and with it a yield still in its hold, which would
        # cap the next hog while its stream is idle.
        rig.probe.publish(f"warden/{HOST}/governor/memory", b"", retain=True)
        for cid in (stream, hog):
            api.remove_container(cid, force=True)
        hog_file.unlink(missing_ok=True)
        if kind == "memory":
            remove_parent(layout)
    jobs = [tuple(map(float, line.split())) for line in out.read_text().splitlines()]
    baseline = p99([j[1] for j in jobs if baseline_from + 0.5 <= j[0] < hog_at])
    seconds = [
        p99([j[1] for j in jobs if hog_at + n <= j[0] < hog_at + n + 1])
        for n in range(int(hog_seconds))
    ]
    limited = first_limit(hog_limits(rig, kind, hog_name, 0.0), hog_at)
    if sampler is not None and others is not None:
        print(f"{tag}: the hog's limits and the PSI triggers after the hog started (s)")
        print("\n".join(timeline(rig, kind, (stream_name, hog_name), hog_at)))
        print(f"{tag}: each second over 2x: its jobs over 2x (s, ms, of it waiting for a CPU,")
        print("  the kernel's wait) and the CPU ms of the processes that used most in it")
        for n, value in enumerate(seconds):
            if value <= 2 * baseline:
                continue
            print(f"  s{n + 1} p99 {value * 1000:.1f} ms; others: {others.top(hog_at + n, 1.0)}")
            for start, took, delay in (j for j in jobs if hog_at + n <= j[0] < hog_at + n + 1):
                if took > 2 * baseline:
                    wait = sampler.waiting_in(start, took)
                    print(f"  {start - hog_at:6.2f} {took * 1000:6.1f} {delay * 1000:6.1f}  {wait}")
    cached = (
        (cache.mib(baseline_from, hog_at, statistics.median_low), cache.mib(hog_at, end, min))
        if cache is not None
        else (None, None)
    )
    return Run(baseline, seconds, limited, idle_rate, busy_rate, cached)


def share(value: float, of: float) -> float:
    return value / of if of else float("nan")


def row(mode: str, summary: Summary, none: Run) -> str:
    r = summary.median
    per_second = " ".join(f"{v * 1000:5.1f}" for v in r.seconds)
    within = f"s{r.within}" if r.within else "never"
    each = ",".join(str(w) if w else "-" for w in summary.each_within)
    first = f"{r.limited:.2f}s" if r.limited is not None else "-"
    keeps = f"{share(r.idle_rate, none.idle_rate):6.0%} {share(r.busy_rate, none.busy_rate):5.0%}"
    return (
        f"{mode:12} {r.baseline * 1000:5.1f} {per_second} {within:>8} {each:>10}"
        f" {f'{summary.over}/{summary.of}':>7} {first:>7}  {keeps}"
    )


def run_kind(rig: Rig, kind: str, modes: list[str], args: argparse.Namespace) -> None:
    """One kind's modes, interleaved over the runs, and its table."""
    runs: dict[str, list[Run]] = {m: [] for m in modes}
    for attempt in range(args.runs):  # modes interleaved, so noise spreads over all
        for m in modes:
            runs[m].append(run_one(rig, kind, m, attempt, args.hog_seconds, args.explain))
    results = {m: median_of(r) for m, r in runs.items()}
    what = f"median of {args.runs} runs" if args.runs > 1 else "one run"
    print(f"\n{kind} hog: the stream's p99 (ms) per second after the hog starts ({what})")
    header = " ".join(f"s{n + 1:<4}" for n in range(int(args.hog_seconds)))
    print(
        f"{'mode':12} {'base':>5} {header} within2x {'each run':>10} {'over2x':>7} limited"
        "  hog keeps: idle  busy"
    )
    for mode, r in results.items():
        print(row(mode, r, results["none"].median))
    if kind == "memory":
        print(f"the stream's page cache (MiB of its {STREAM_CACHE_MB}): baseline, lowest")
        for mode, r in results.items():
            base, low = (f"{v:.0f}" if v is not None else "-" for v in r.median.cached_mib)
            print(f"{mode:12} {base:>5} {low:>5}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kinds", default="io,cpu,memory")
    parser.add_argument("--hog-seconds", type=float, default=10)
    parser.add_argument("--runs", type=int, default=1, help="medians over this many runs")
    parser.add_argument("--explain", action="store_true")
    parser.add_argument("--modes", default=",".join(MODES), help="a subset, none among them")
    args = parser.parse_args()
    kinds = [k for k in args.kinds.split(",") if k]
    modes = [m for m in MODES if m in args.modes.split(",")]
    if "none" not in modes:
        parser.error("--modes must hold none: the hog keeps its share of none's throughput")
    with Rig(with_docker=True) as rig:
        try:
            for kind in kinds:
                run_kind(rig, kind, modes, args)
        finally:
            (rig.workdir / MEDIA_FILE).unlink(missing_ok=True)


if __name__ == "__main__":
    main()
