"""Protect (Warden's own rule), table-driven on a fake clock."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypedDict

import pytest

from services.governor.rules.protect import ProtectOutcome, protect
from shared.config.model import Protect, WardenConfig
from shared.messages import (
    ContainerFact,
    ContainerPressure,
    ContainerUsage,
    PressureFact,
    StallShare,
)
from tests.support.views import STREAM_TIERS, stall_fact

MB = 1024**2
CFG = WardenConfig.model_validate({"tiers": STREAM_TIERS})
RULE = Protect(hold_seconds=10, step_factor=0.5, first_steps=1, io_floor_mb_per_sec=1)
MATCHER = CFG.tier_matcher()
CANDIDATES = [
    (ContainerFact(id=n * 2, name=n, state="running", tier=t), t)
    for n, t in (("sonarr", 2), ("tdarr", 3), ("kopia", 3))
]
# tdarr writes 40 MB/s, kopia 8 MB/s, sonarr 20 MB/s; CPU: kopia is the busiest.
USAGE = [
    ContainerUsage(id="x", name="tdarr", source="", io_bytes_per_second=40 * MB, cpu_percent=20),
    ContainerUsage(id="y", name="kopia", source="", io_bytes_per_second=8 * MB, cpu_percent=60),
    ContainerUsage(id="z", name="sonarr", source="", io_bytes_per_second=20 * MB, cpu_percent=10),
]


@dataclass(frozen=True)
class Reading:
    """One pressure fact: each protected container's io stall share (None: unknown)."""

    shares: dict[str, float | None]
    fired: Sequence[str] = ()


def fact(reading: Reading | None) -> PressureFact | None:
    return None if reading is None else stall_fact(reading.shares, reading.fired)


def run(
    steps: Sequence[tuple[float, Reading | None]],
    cfg: Protect = RULE,
    usage: Sequence[ContainerUsage] | None = USAGE,
    candidates: Sequence[tuple[ContainerFact, int]] = CANDIDATES,
) -> list[ProtectOutcome]:
    memory: dict = {}
    outcomes = []
    for now, reading in steps:
        out = protect(cfg, MATCHER, memory, fact(reading), now, usage, candidates, 2, 2.0, now)
        outcomes.append(out)
        memory = out.memory
    return outcomes


def io_limits(out: ProtectOutcome, disk: str = "8:16") -> dict[str, float]:
    """Container -> io.max in MB/s, on a disk (the stream's, in the per-disk cases)."""
    return {
        n: (lim.io_max.on(disk).write_bps or 0) / MB for n, lim in out.limits.items() if lim.io_max
    }


def calm(share: float = 0.0) -> Reading:
    return Reading({"jellyfin": share})


def stalled(share: float | None = 40.0, fired: bool = False) -> Reading:
    return Reading({"jellyfin": share}, ("jellyfin",) if fired else ())


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        # Calm: nothing.
        ([(0, calm()), (2, calm(5))], [{}, {}]),
        # At the share is not above it.
        ([(0, calm(10.0))], [{}]),
        # A stall starts: the biggest tier-3 io user gets half of what it uses.
        ([(0, stalled())], [{"tdarr": 20}]),
        # The trigger alone is enough (no share yet: the first reading).
        ([(0, stalled(None, fired=True))], [{"tdarr": 20}]),
        # It persists and does not fall: a step per window, to the floor, then kopia joins.
        (
            [(0, stalled()), (2, stalled()), (4, stalled(45)), (6, stalled(45)),
             (8, stalled(50)), (10, stalled(50)), (12, stalled(50))],
            [{"tdarr": 20}, {"tdarr": 10}, {"tdarr": 5}, {"tdarr": 2.5}, {"tdarr": 1.25},
             {"tdarr": 1}, {"tdarr": 1, "kopia": 4}],
        ),
        # Falling: the last step is working, hold it.
        ([(0, stalled(40)), (2, stalled(30)), (4, stalled(20)), (6, stalled(25))],
         [{"tdarr": 20}, {"tdarr": 20}, {"tdarr": 20}, {"tdarr": 10}]),
        # Two readings within one window: one step.
        ([(0, stalled()), (0.5, stalled()), (2, stalled())],
         [{"tdarr": 20}, {"tdarr": 20}, {"tdarr": 10}]),
        # Clears: held for 10 s of calm, then loosened a step per hold until gone.
        (
            [(0, stalled()), (2, stalled()), (4, calm()), (11.9, calm()), (12, calm()),
             (21.9, calm()), (22, calm())],
            [{"tdarr": 20}, {"tdarr": 10}, {"tdarr": 10}, {"tdarr": 10}, {"tdarr": 20},
             {"tdarr": 20}, {}],
        ),
        # Flapping at the edge: the calm never lasts a hold, so nothing is loosened.
        (
            [(0, stalled(10.1)), (2, calm(9.9)), (4, stalled(10.1)), (6, calm(9.9)),
             (8, stalled(10.1)), (10, calm(9.9)), (12, stalled(10.1))],
            [{"tdarr": 20}, {"tdarr": 20}, {"tdarr": 10}, {"tdarr": 10}, {"tdarr": 5},
             {"tdarr": 5}, {"tdarr": 2.5}],
        ),
        # Unknown never throttles ...
        ([(0, None), (2, stalled(None)), (4, Reading({}))], [{}, {}, {}]),
        # ... and never loosens: a limit in place stays while the reading is unknown.
        ([(0, stalled()), (20, None), (40, stalled(None))], [{"tdarr": 20}] * 3),
        # With no protected container left, the stall's reason is gone.
        ([(0, stalled()), (10, Reading({}))], [{"tdarr": 20}, {}]),
        # Tier 0 counts as protected; tier 2 and 3 stalls never do.
        ([(0, Reading({"pihole": 50}))], [{"tdarr": 20}]),
        ([(0, Reading({"tdarr": 90, "sonarr": 90}))], [{}]),
    ],
)  # fmt: skip
def test_io_steps(steps: list[tuple[float, Reading | None]], expected: list[dict]) -> None:
    assert [io_limits(o) for o in run(steps)] == expected


def test_several_protected_containers_any_stall_counts_and_all_must_calm() -> None:
    both = Reading({"jellyfin": 40, "plex": 0})
    other = Reading({"jellyfin": 0, "plex": 40})
    quiet = Reading({"jellyfin": 0, "plex": 0})
    out = run([(0, both), (2, other), (4, quiet), (11.9, quiet), (12, quiet)])
    assert [io_limits(o) for o in out] == [
        {"tdarr": 20},
        {"tdarr": 10},
        {"tdarr": 10},
        {"tdarr": 10},
        {"tdarr": 20},
    ]
    # One of them unknown, the other calm: not known to be calm, so nothing is loosened.
    out = run([(0, both), (10, Reading({"jellyfin": 0, "plex": None}))])
    assert io_limits(out[1]) == {"tdarr": 20}


def test_unknown_usage_never_chooses_a_container() -> None:
    out = run([(0, stalled())], usage=None)
    assert out[0].limits == {}
    no_io = [ContainerUsage(id="x", name="tdarr", source="")]
    assert run([(0, stalled())], usage=no_io)[0].limits == {}


def test_usage_that_arrives_after_the_stall_is_acted_on_at_once() -> None:
    memory: dict = {}
    stall = fact(stalled())
    first = protect(RULE, MATCHER, memory, stall, 0, None, CANDIDATES, 2, 2.0, 0)
    assert first.limits == {}
    # The same pressure reading; the usage fact comes in half a second later.
    later = protect(RULE, MATCHER, first.memory, stall, 0, USAGE, CANDIDATES, 2, 2.0, 0.5)
    assert io_limits(later) == {"tdarr": 20}
    # ... and the next step waits for a new reading.
    again = protect(RULE, MATCHER, later.memory, stall, 0, USAGE, CANDIDATES, 2, 2.0, 3)
    assert io_limits(again) == {"tdarr": 20}


def test_tier_2_only_when_tier_3_uses_nothing() -> None:
    idle3 = [
        ContainerUsage(id="x", name="tdarr", source="", io_bytes_per_second=0.1 * MB),
        USAGE[2],
    ]
    assert io_limits(run([(0, stalled())], usage=idle3)[0]) == {"sonarr": 10}


def test_a_container_gone_is_dropped() -> None:
    first = run([(0, stalled())])[0]
    out = protect(RULE, MATCHER, first.memory, fact(stalled()), 2, USAGE, CANDIDATES[:1], 2, 2.0, 2)
    assert "tdarr" not in out.limits


def test_cpu_stall_limits_cpu_max_of_the_busiest_and_reason_is_stable() -> None:
    pressure = PressureFact(
        host="h",
        containers=[
            ContainerPressure(
                id="j",
                name="jellyfin",
                source="",
                stall=[StallShare(resource="cpu", some_percent=30, seconds=2)],
            )
        ],
    )
    out = protect(RULE, MATCHER, {}, pressure, 0, USAGE, CANDIDATES, 2, 2.0, 0)
    limit = out.limits["kopia"]
    # kopia uses 60 % of 2 CPUs: half of it is 30 % of the machine, 60 ms per 100 ms.
    assert limit.cpu_max is not None and limit.cpu_max.quota_us == 60_000
    assert limit.io_max is None
    assert [str(r) for r in limit.reasons] == ["protect(cpu.some_stall_percent > 10, step 1)"]
    assert "jellyfin" in out.readings["protect.cpu"]


def test_the_first_limit_takes_first_steps_at_once_and_each_is_loosened() -> None:
    cfg = RULE.model_copy(update={"first_steps": 2})
    out = run([(0, stalled()), (2, calm()), (12, calm()), (22, calm())], cfg=cfg)
    assert [io_limits(o) for o in out] == [{"tdarr": 10}, {"tdarr": 10}, {"tdarr": 20}, {}]


def test_disabled_does_nothing() -> None:
    off = Protect(enabled=False)
    assert run([(0, stalled())], cfg=off)[0].limits == {}


class IoUse(TypedDict):
    """ContainerUsage's io fields, each of its own type."""

    io_bytes_per_second: float
    io_bytes_per_second_by_disk: dict[str, float]


def on(total_mb: float, **disks_mb: float) -> IoUse:
    """io use per disk (disk_8_16=... for "8:16")."""
    return {
        "io_bytes_per_second": total_mb * MB,
        "io_bytes_per_second_by_disk": {
            k.removeprefix("disk_").replace("_", ":"): v * MB for k, v in disks_mb.items()
        },
    }


# The stream reads from 8:16. tdarr writes 90 MB/s to its own disk (8:0) and 4 to the
# stream's; kopia writes 30 to the stream's.
BY_DISK = [
    ContainerUsage(id="j", name="jellyfin", source="", **on(2, disk_8_16=2)),
    ContainerUsage(id="x", name="tdarr", source="", **on(94, disk_8_0=90, disk_8_16=4)),
    ContainerUsage(id="y", name="kopia", source="", **on(30, disk_8_16=30)),
]


def test_an_io_stall_limits_the_biggest_user_of_the_stalled_disk_there_only() -> None:
    """Not the biggest writer of all: the one that writes most where the stream reads."""
    first, second = run([(0, stalled()), (2, stalled())], usage=BY_DISK)
    assert io_limits(first) == {"kopia": 15}
    kopia = first.limits["kopia"].io_max
    assert kopia is not None and set(kopia.disks) == {"8:16"}
    assert kopia.read_bps is None and kopia.write_bps is None  # its other disks keep their speed
    assert io_limits(second) == {"kopia": 7.5}
    assert io_limits(second, "8:0") == {"kopia": 0}  # no limit there
    assert second.memory["io"].throttles["kopia"].disks == ["8:16"]


def test_an_io_stall_where_the_stalled_disks_are_not_known_limits_on_every_disk() -> None:
    unknown = [u.model_copy(update={"io_bytes_per_second_by_disk": None}) for u in BY_DISK]
    (out,) = run([(0, stalled())], usage=unknown)
    assert io_limits(out) == {"tdarr": 47}
    tdarr = out.limits["tdarr"].io_max
    assert tdarr is not None and tdarr.disks == {} and tdarr.write_bps == 47 * MB


def test_a_limit_widens_to_each_disk_the_stream_stalls_on_while_it_lasts() -> None:
    moved = [u for u in BY_DISK if u.name != "jellyfin"]
    moved.append(ContainerUsage(id="j", name="jellyfin", source="", **on(2, disk_8_32=2)))
    memory: dict = {}
    seen = []
    for now, usage in ((0.0, BY_DISK), (2.0, moved)):
        out = protect(RULE, MATCHER, memory, fact(stalled()), now, usage, CANDIDATES, 2, 2.0, now)
        memory = out.memory
        seen.append(out.memory["io"].throttles["kopia"].disks)
    assert seen == [["8:16"], ["8:16", "8:32"]]
