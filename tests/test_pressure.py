"""PSI parsing, and the real /proc/pressure of this machine."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from services.sensors.pressure import (
    PressureParseError,
    parse_pressure,
    read_pressure,
    stall_share,
)
from shared.messages import PressureLine
from tests.support.real import missing

GOOD = (
    "some avg10=1.50 avg60=0.25 avg300=0.00 total=12345\n"
    "full avg10=0.10 avg60=0.00 avg300=0.00 total=99\n"
)


def test_parses_some_and_full() -> None:
    p = parse_pressure(GOOD)
    assert (p.some.avg10, p.some.avg60, p.some.total) == (1.5, 0.25, 12345)
    assert p.full is not None and p.full.avg10 == 0.1


def test_full_is_optional() -> None:
    assert parse_pressure(GOOD.splitlines()[0]).full is None


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "no 'some' line"),
        ("full avg10=0 avg60=0 avg300=0 total=0", "no 'some' line"),
        ("some avg10=x avg60=0 avg300=0 total=0", "bad 'some' line"),
        ("some avg10=1 avg60=0 total=0", "bad 'some' line"),
        ("some avg10=101 avg60=0 avg300=0 total=0", "bad 'some' line"),
        ("some avg10=-1 avg60=0 avg300=0 total=0", "bad 'some' line"),
    ],
)
def test_garbage_is_refused_with_the_reason(text: str, reason: str) -> None:
    with pytest.raises(PressureParseError, match=reason):
        parse_pressure(text, "test")


def test_missing_file_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        read_pressure(tmp_path, "memory")


@pytest.mark.parametrize("resource", ["cpu", "memory", "io"])
def test_reads_this_machines_real_pressure(resource: str) -> None:
    if not Path("/proc/pressure", resource).exists():
        missing("this kernel has no PSI")
    first = read_pressure("/proc", resource)
    time.sleep(0.05)
    later = read_pressure("/proc", resource)
    # The kernel's stall time is a counter: it never goes back.
    assert later.some.total >= first.some.total


def _line(total: int, avg10: float = 0.0) -> PressureLine:
    return PressureLine(avg10=avg10, avg60=0, avg300=0, total=total)


@pytest.mark.parametrize(
    ("before", "now", "seconds", "expected"),
    [
        (None, _line(5_000_000), 2.0, None),  # no earlier reading: unknown
        (9_000_000, _line(5_000_000), 2.0, None),  # counter went back (a new cgroup)
        (1_000_000, _line(1_500_000), 2.0, (25.0, 2.0)),  # 0.5 s stalled of 2 s
        (1_000_000, _line(1_000_000), 2.0, (0.0, 2.0)),
        (0, _line(9_000_000), 2.0, (100.0, 2.0)),  # more than the span: capped
        (1_000_000, _line(1_800_000), 4.0, (20.0, 4.0)),  # two windows: still the counters
        # Far apart: 0.8 s of stall spread over 30 s would read 2.7 %; avg10 says it.
        (1_000_000, _line(1_800_000, avg10=31.4), 30.0, (31.4, 10.0)),
    ],
)
def test_stall_share_from_the_counters_or_for_far_apart_readings_the_kernels_avg10(
    before: int | None, now: PressureLine, seconds: float, expected: tuple[float, float] | None
) -> None:
    share = stall_share("io", before, now, seconds, window=2.0)
    if expected is None:
        assert share is None
    else:
        assert share is not None and (share.some_percent, share.seconds) == expected
