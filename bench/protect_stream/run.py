"""One kind's mode, run: the stream's and the hog's containers, Warden (or none), the hog
while the stream is idle, the calm, the stream's baseline, then the hog under the
stream; what it measured, and with --explain whose each slow second was."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.protect_stream.hogs import (
    HOG_PEAK_MB,
    HOGS,
    MEMORY_PARENT,
    join_cgroups,
    limit_parent,
    media_file,
    procs_file,
    remove_parent,
    work,
)
from bench.protect_stream.limits import first_limit, hog_limits, timeline, wait_calm
from bench.protect_stream.results import Run, p99
from bench.protect_stream.samplers import CacheSampler, CpuByProcess, StackSampler
from bench.rig import HOST, Rig
from host.cgroups.view import detect_layout, process_cgroups
from tests.support.processes import wait_until

REPO = Path(__file__).resolve().parents[2]
# quiet: no hog, no governor (the machine's own noise); none: the hog, no governor;
# adrg: Warden with protect off; protect: Warden as configured by default;
# protect-only: protect with ADRG's io rule off, which caps any busy tier 3, stream or not.
MODES = ("quiet", "none", "adrg", "protect", "protect-only")
IDLE_SECONDS = 6.0
BASELINE_SECONDS = 4.0


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
