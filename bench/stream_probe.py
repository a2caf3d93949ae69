"""A stream's foreground work, as the protect benchmark runs it inside a tier-1 container's
cgroups: every 10 ms a 64 KiB direct write and about a millisecond of CPU, each job timed.

    python -m bench.stream_probe --file F --idle IDLE --out OUT

While the file IDLE exists it does no jobs (an idle stream). On SIGTERM it writes
one "monotonic_start latency_seconds" line per job to OUT and exits.
"""

from __future__ import annotations

import argparse
import mmap
import os
import signal
import time
from pathlib import Path

PERIOD = 0.010
CHUNK = 64 * 1024
SLOTS = 64  # the job writes over a 4 MiB file, never growing it


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--file", type=Path, required=True)
    parser.add_argument("--idle", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    stop = False

    def on_term(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    buffer = mmap.mmap(-1, CHUNK)  # page-aligned, as O_DIRECT wants
    buffer.write(b"x" * CHUNK)
    fd = os.open(args.file, os.O_RDWR | os.O_CREAT | os.O_DIRECT, 0o600)
    jobs: list[tuple[float, float]] = []
    slot = 0
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
        start = time.monotonic()
        os.pwritev(fd, [buffer], slot * CHUNK)
        slot = (slot + 1) % SLOTS
        sum(range(30_000))  # the decoding between reads
        jobs.append((start, time.monotonic() - start))
        next_at = max(next_at, time.monotonic())
    os.close(fd)
    args.out.write_text("".join(f"{s:.6f} {d:.6f}\n" for s, d in jobs))


if __name__ == "__main__":
    main()
