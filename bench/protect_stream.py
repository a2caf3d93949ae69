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
rows of one run. --explain prints each slow job after the hog starts with what
the kernel had the stream waiting in (sampled from /proc/<pid>/stack).

The io hog rewrites one big file on a bind mount with direct I/O, as a
transcoder writes new files and deletes old ones: its blocks are allocated and
freed again every pass, and what contends is the filesystem's journal as much
as the disk. The "quiet" row is the stream with no hog at all: the machine's
own noise, measured in the same run.

    .venv/bin/python -m bench.protect_stream [--kinds io,cpu,memory] [--hog-seconds 10]
                                            [--runs 1] [--explain]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

from bench.rig import HOST, Rig
from host.cgroups.view import ProcessCgroups, detect_layout, process_cgroups
from services.sensors.resources import container_cpu_usec, container_io_bytes
from shared.messages import ContainerIntent, DesiredState, PressureFact
from shared.units import MB_PER_SEC

REPO = Path(__file__).resolve().parents[1]
HOGS = {
    "io": "while :; do dd if=/dev/zero of=/data/hog bs=1M count=256 oflag=direct 2>/dev/null; done",
    "cpu": "while :; do :; done & while :; do :; done",
    "memory": (
        "while :; do dd if=/dev/zero of=/mnt/f bs=1M count=1500 2>/dev/null; rm -f /mnt/f; done"
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


def work(kind: str, cg: ProcessCgroups) -> float:
    if kind == "io":
        return float(container_io_bytes(cg) or 0)
    return float(container_cpu_usec(cg) or 0)


def host_avg10(resource: str) -> float:
    line = Path(f"/proc/pressure/{resource}").read_text().splitlines()[0]
    return float(line.split()[1].removeprefix("avg10="))


def hog_intents(
    rig: Rig, hog_name: str, after: float
) -> list[tuple[float, ContainerIntent | None]]:
    """(arrival, the hog's intent) of each desired state since `after`."""
    return [
        (seen.at, DesiredState.model_validate_json(seen.payload).containers.get(hog_name))
        for seen in rig.probe.messages(f"warden/{HOST}/desired")
        if seen.at >= after
    ]


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
    for at, intent in hog_intents(rig, hog_name, hog_at):
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


def stays_within(seconds: list[float], baseline: float) -> int | None:
    """The first second from which every second's p99 is within 2x of the baseline."""
    return next(
        (n + 1 for n in range(len(seconds)) if all(v <= 2 * baseline for v in seconds[n:])), None
    )


def median_of(runs: list[dict[str, object]]) -> dict[str, object]:
    """Each number the median over the runs of one mode: the machine's own hiccups, which
    land on one run's second and not the next's, drop out."""

    def med(key: str) -> float | None:
        values = [v for r in runs if isinstance(v := r[key], float)]
        return statistics.median(values) if values else None

    seconds = [
        statistics.median(r["seconds"][n] for r in runs)  # type: ignore[index]
        for n in range(len(runs[0]["seconds"]))  # type: ignore[arg-type]
    ]
    baseline = med("baseline")
    assert baseline is not None
    return {
        "baseline": baseline,
        "seconds": seconds,
        "within": stays_within(seconds, baseline),
        "limited": med("limited"),
        "idle_rate": med("idle_rate"),
        "busy_rate": med("busy_rate"),
    }


def p99(values: list[float]) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


def run_one(
    rig: Rig, kind: str, mode: str, attempt: int, hog_seconds: float, explain: bool
) -> dict[str, object]:
    api, containers = rig.api, rig.containers
    assert api is not None and containers is not None
    tag = f"{kind}-{mode}-{attempt}"
    stream = containers.run(f"stream-{tag}")
    # Outside the container's own tree, so removing the container frees nothing big.
    data = rig.workdir / "hogdata"
    data.mkdir(exist_ok=True)
    hog_file = data / "hog"
    extra: dict[str, object] = {"binds": {str(data): {"bind": "/data", "mode": "rw"}}}
    if kind == "memory":
        extra["tmpfs"] = {"/mnt": "size=2g"}
    hog = containers.run(f"hog-{tag}", ("sleep", "3600"), **extra)
    stream_name, hog_name = containers.name(f"stream-{tag}"), containers.name(f"hog-{tag}")
    layout = detect_layout("/sys/fs/cgroup")
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
    probe = subprocess.Popen(
        [sys.executable, "-m", "bench.stream_probe", "--file", str(rig.workdir / f"seg-{tag}"),
         "--idle", str(idle), "--out", str(out)],
        cwd=REPO,
    )  # fmt: skip
    join_cgroups(probe.pid, stream_cg)
    sampler = StackSampler(probe.pid) if explain else None

    def start_hog() -> None:
        if mode == "quiet":
            return
        api.exec_start(api.exec_create(hog, ["sh", "-c", HOGS[kind]])["Id"], detach=True)

    def stop_hog() -> None:
        # busybox's sh has kill built in; -1 spares pid 1 (the container's sleep).
        api.exec_start(api.exec_create(hog, ["sh", "-c", "kill -9 -1"])["Id"])

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
        baseline_from = time.monotonic()
        time.sleep(BASELINE_SECONDS)
        hog_at = time.monotonic()
        before = work(kind, hog_cg)
        start_hog()
        time.sleep(hog_seconds)
        busy_rate = (work(kind, hog_cg) - before) / hog_seconds
    finally:
        if sampler is not None:
            sampler.stop()
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
    jobs = [tuple(map(float, line.split())) for line in out.read_text().splitlines()]
    baseline = p99([d for s, d in jobs if baseline_from + 0.5 <= s < hog_at])
    seconds = [
        p99([d for s, d in jobs if hog_at + n <= s < hog_at + n + 1])
        for n in range(int(hog_seconds))
    ]
    within = stays_within(seconds, baseline)
    limited = first_limit(hog_limits(rig, kind, hog_name, 0.0), hog_at)
    if sampler is not None:
        print(f"{tag}: the hog's limits and the PSI triggers after the hog started (s)")
        print("\n".join(timeline(rig, kind, (stream_name, hog_name), hog_at)))
        print(f"{tag}: slow jobs after the hog started (s, ms, the kernel's wait)")
        for start, took in jobs:
            if start >= hog_at and took > max(2 * baseline, 0.005):
                wait = sampler.waiting_in(start, took)
                print(f"  {start - hog_at:6.2f} {took * 1000:6.1f}  {wait}")
    return {
        "baseline": baseline,
        "seconds": seconds,
        "within": within,
        "limited": limited,
        "idle_rate": idle_rate,
        "busy_rate": busy_rate,
    }


def share(value: object, of: object) -> float:
    assert isinstance(value, float) and isinstance(of, float)
    return value / of if of else float("nan")


def row(mode: str, r: dict[str, object], none: dict[str, object]) -> str:
    seconds, baseline, within, limited = r["seconds"], r["baseline"], r["within"], r["limited"]
    assert isinstance(seconds, list) and isinstance(baseline, float)
    per_second = " ".join(f"{v * 1000:5.1f}" for v in seconds)
    first = f"{limited:.2f}s" if isinstance(limited, float) else "-"
    idle, busy = share(r["idle_rate"], none["idle_rate"]), share(r["busy_rate"], none["busy_rate"])
    keeps = f"{idle:6.0%} {busy:5.0%}"
    return (
        f"{mode:12} {baseline * 1000:5.1f} {per_second} {f's{within}' if within else 'never':>8}"
        f" {first:>7}  {keeps}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kinds", default="io,cpu,memory")
    parser.add_argument("--hog-seconds", type=float, default=10)
    parser.add_argument("--runs", type=int, default=1, help="medians over this many runs")
    parser.add_argument("--explain", action="store_true")
    args = parser.parse_args()
    kinds = [k for k in args.kinds.split(",") if k]
    with Rig(with_docker=True) as rig:
        for kind in kinds:
            runs: dict[str, list[dict[str, object]]] = {m: [] for m in MODES}
            for attempt in range(args.runs):  # modes interleaved, so noise spreads over all
                for m in MODES:
                    runs[m].append(run_one(rig, kind, m, attempt, args.hog_seconds, args.explain))
            results = {m: median_of(r) for m, r in runs.items()}
            what = f"median of {args.runs} runs" if args.runs > 1 else "one run"
            print(f"\n{kind} hog: the stream's p99 (ms) per second after the hog starts ({what})")
            header = " ".join(f"s{n + 1:<4}" for n in range(int(args.hog_seconds)))
            print(f"{'mode':12} {'base':>5} {header} within2x limited  hog keeps: idle  busy")
            for mode, r in results.items():
                print(row(mode, r, results["none"]))


if __name__ == "__main__":
    main()
