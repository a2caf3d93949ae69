"""A mode's run and its summary over runs: the p99 of each second, the first second
from which the stream stays within 2x of its baseline, medians, and the table's row."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass


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
