"""A stream's foreground work, as the protect benchmark runs it inside a tier-1 container's
cgroups: every 10 ms a 64 KiB direct write and about a millisecond of CPU, each job timed.

    python -m bench.stream_probe --file F --idle IDLE --out OUT [--run-delay] [--read READY]

With --read, each job reads 64 KiB at a random place of F through the page cache
instead of writing (the media a stream serves from its cache, for the memory
hog): F is read whole once when IDLE goes, before the first job, and READY is
created then, so that the baseline starts with F cached and charged to the
stream's own memory cgroup.

While the file IDLE exists it does no jobs (an idle stream). On SIGTERM it writes
one "monotonic_start latency_seconds" line per job to OUT and exits; with --run-delay,
a third column: the seconds of the job spent waiting for a CPU (the kernel's schedstat),
which tells a job slowed by the scheduler from one slowed by its write.
"""

from __future__ import annotations

import argparse
import itertools
import mmap
import os
import random
import signal
import time
from collections.abc import Callable
from pathlib import Path

PERIOD = 0.010
CHUNK = 64 * 1024
SLOTS = 64  # the job writes over a 4 MiB file, never growing it


def run_delay() -> float:
    """Seconds this process has waited on a run queue since it started."""
    with open("/proc/self/schedstat") as f:
        return int(f.read().split()[1]) / 1e9


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--file", type=Path, required=True)
    parser.add_argument("--idle", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--run-delay", action="store_true")
    parser.add_argument("--read", type=Path, metavar="READY")
    args = parser.parse_args()
    stop = False
    waited: Callable[[], float] = run_delay if args.run_delay else lambda: 0.0

    def on_term(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    if args.read is not None:
        fd = os.open(args.file, os.O_RDONLY)
        chunks = os.fstat(fd).st_size // CHUNK

        def do_job() -> None:
            os.pread(fd, CHUNK, random.randrange(chunks) * CHUNK)
    else:
        fd = os.open(args.file, os.O_RDWR | os.O_CREAT | os.O_DIRECT, 0o600)
        buffer = mmap.mmap(-1, CHUNK)  # page-aligned, as O_DIRECT wants
        buffer.write(b"x" * CHUNK)
        slots = itertools.count()

        def do_job() -> None:
            os.pwritev(fd, [buffer], next(slots) % SLOTS * CHUNK)

    warm = args.read is None
    jobs: list[tuple[float, float, float]] = []
    next_at = time.monotonic()
    while not stop:
        now = time.monotonic()
        if now < next_at:
            time.sleep(next_at - now)
        next_at += PERIOD
        if args.idle.exists():
            # Idle for real: a wake-up every 10 ms would itself wait for a busy CPU.
            time.sleep(0.2)
            next_at = time.monotonic()
            continue
        if not warm:
            while os.read(fd, 1 << 20):
                pass
            args.read.touch()
            warm = True
            next_at = time.monotonic()
        delay_before = waited()
        start = time.monotonic()
        do_job()
        sum(range(30_000))  # the decoding between reads
        jobs.append((start, time.monotonic() - start, waited() - delay_before))
        next_at = max(next_at, time.monotonic())
    os.close(fd)
    columns = 3 if args.run_delay else 2
    args.out.write_text("".join(" ".join(f"{v:.6f}" for v in job[:columns]) + "\n" for job in jobs))


if __name__ == "__main__":
    main()
