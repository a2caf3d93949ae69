"""python -m bench.protect_stream: each kind's modes, interleaved over the runs, and
their tables (the package's docstring says what is measured)."""

from __future__ import annotations

import argparse

import bench.protect_stream
from bench.protect_stream.hogs import MEDIA_FILE, STREAM_CACHE_MB
from bench.protect_stream.results import Run, median_of, row
from bench.protect_stream.run import MODES, run_one
from bench.rig import Rig


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
    parser = argparse.ArgumentParser(
        prog="python -m bench.protect_stream", description=bench.protect_stream.__doc__
    )
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
