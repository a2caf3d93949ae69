"""A stream's latency under a bulk hog: no governor, Warden with ADRG's rules only, Warden with
protect, side by side in one run, for an io, a cpu and a memory hog.

The stream is bench/stream_probe.py (a job every 10 ms) moved into a tier-1
container's cgroups; the hog runs in a tier-3 container. For each kind and
mode: the hog runs while the stream is idle (what the hog keeps when nothing
needs protecting), then the stream runs alone (its baseline p99), then the hog
starts under it: the stream's p99 per second after the hog starts, the first
second from which it stays within 2x of its baseline, and the hog's throughput
(bytes for io, CPU time otherwise) as a share of the no-governor run's.
Needs the Docker engine, PSI and the test image (tests create it). The numbers
are as noisy as the machine they run on: compare the rows of one run.

    .venv/bin/python -m bench.protect_stream [--kinds io,cpu,memory] [--hog-seconds 10]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from bench.rig import HOST, Rig
from host.cgroups.view import ProcessCgroups, detect_layout, process_cgroups
from services.sensors.resources import container_cpu_usec, container_io_bytes

REPO = Path(__file__).resolve().parents[1]
HOGS = {
    "io": "while :; do dd if=/dev/zero of=/hog bs=1M count=256 oflag=direct 2>/dev/null; done",
    "cpu": "while :; do :; done & while :; do :; done",
    "memory": (
        "while :; do dd if=/dev/zero of=/mnt/f bs=1M count=1500 2>/dev/null; rm -f /mnt/f; done"
    ),
}
# adrg: Warden with protect off; protect: Warden as configured by default; protect-only:
# protect with ADRG's io rule off, which caps any busy tier 3, stream or not.
MODES = ("none", "adrg", "protect", "protect-only")
IDLE_SECONDS = 6.0
BASELINE_SECONDS = 4.0
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


def p99(values: list[float]) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


def run_one(rig: Rig, kind: str, mode: str, hog_seconds: float) -> dict[str, object]:
    api, containers = rig.api, rig.containers
    assert api is not None and containers is not None
    tag = f"{kind}-{mode}"
    stream = containers.run(f"stream-{tag}")
    extra = {"tmpfs": {"/mnt": "size=2g"}} if kind == "memory" else {}
    hog = containers.run(f"hog-{tag}", **extra)
    layout = detect_layout("/sys/fs/cgroup")
    stream_cg = process_cgroups(layout, "/proc", containers.pid(stream))
    hog_cg = process_cgroups(layout, "/proc", containers.pid(hog))
    services = []
    if mode != "none":
        config = rig.config(
            general={"poll_interval_seconds": 1},
            tiers={
                1: {"containers": [containers.name(f"stream-{tag}")]},
                3: {"containers": [containers.name(f"hog-{tag}")]},
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

    def start_hog() -> None:
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
        time.sleep(3.0)
        idle.unlink()
        baseline_from = time.monotonic()
        time.sleep(BASELINE_SECONDS)
        hog_at = time.monotonic()
        before = work(kind, hog_cg)
        start_hog()
        time.sleep(hog_seconds)
        busy_rate = (work(kind, hog_cg) - before) / hog_seconds
    finally:
        probe.terminate()
        probe.wait(30)
        stop_hog()
        for service in services:
            service.stop()
        rig._services = [s for s in rig._services if s not in services]
        for cid in (stream, hog):
            api.remove_container(cid, force=True)
    jobs = [tuple(map(float, line.split())) for line in out.read_text().splitlines()]
    baseline = p99([d for s, d in jobs if baseline_from + 0.5 <= s < hog_at])
    seconds = [
        p99([d for s, d in jobs if hog_at + n <= s < hog_at + n + 1])
        for n in range(int(hog_seconds))
    ]
    within = next(
        (n + 1 for n in range(len(seconds)) if all(v <= 2 * baseline for v in seconds[n:])), None
    )
    return {
        "baseline": baseline,
        "seconds": seconds,
        "within": within,
        "idle_rate": idle_rate,
        "busy_rate": busy_rate,
    }


def share(value: object, of: object) -> float:
    assert isinstance(value, float) and isinstance(of, float)
    return value / of if of else float("nan")


def row(mode: str, r: dict[str, object], none: dict[str, object]) -> str:
    seconds, baseline, within = r["seconds"], r["baseline"], r["within"]
    assert isinstance(seconds, list) and isinstance(baseline, float)
    per_second = " ".join(f"{v * 1000:5.1f}" for v in seconds)
    keeps = f"{share(r['idle_rate'], none['idle_rate']):14.0%} "
    keeps += f"{share(r['busy_rate'], none['busy_rate']):5.0%}"
    return (
        f"{mode:12} {baseline * 1000:5.1f} {per_second} {f's{within}' if within else 'never':>8}"
        f"  {keeps}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kinds", default="io,cpu,memory")
    parser.add_argument("--hog-seconds", type=float, default=10)
    args = parser.parse_args()
    kinds = [k for k in args.kinds.split(",") if k]
    with Rig(with_docker=True) as rig:
        for kind in kinds:
            results = {mode: run_one(rig, kind, mode, args.hog_seconds) for mode in MODES}
            none = results["none"]
            print(f"\n{kind} hog: the stream's p99 (ms) per second after the hog starts")
            header = " ".join(f"s{n + 1:<4}" for n in range(int(args.hog_seconds)))
            print(f"{'mode':12} {'base':>5} {header} within2x  hog keeps: idle  busy")
            for mode, r in results.items():
                per_second = " ".join(f"{v * 1000:5.1f}" for v in r["seconds"])  # type: ignore[attr-defined]
                within = f"s{r['within']}" if r["within"] else "never"
                idle_share = (
                    r["idle_rate"] / none["idle_rate"] if none["idle_rate"] else float("nan")
                )  # type: ignore[operator]
                busy_share = (
                    r["busy_rate"] / none["busy_rate"] if none["busy_rate"] else float("nan")
                )  # type: ignore[operator]
                print(
                    f"{mode:8} {r['baseline'] * 1000:5.1f} {per_second} {within:>8}"  # type: ignore[operator]
                    f"  {idle_share:14.0%} {busy_share:5.0%}"
                )


if __name__ == "__main__":
    main()
