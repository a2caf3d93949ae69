"""When a yield (cpu_yield, io_yield) starts and ends: protected work active, quiet or unknown,
a stall, the hold. Table tests on a fake clock."""

from __future__ import annotations

import pytest

from services.governor.yielding import YieldState, next_state, protected_activity
from shared.config.model import WardenConfig
from shared.messages import ContainerUsage

CFG = WardenConfig.model_validate(
    {
        "host_id": "h",
        "tiers": {1: {"containers": ["jellyfin"]}, 3: {"containers": ["tdarr"]}},
        "protected_containers": ["pihole"],
    }
)
MATCHER = CFG.tier_matcher()
HOLD = 10.0


def usage(**io: float | None) -> list[ContainerUsage]:
    return [ContainerUsage(id=n, name=n, source="", io_bytes_per_second=v) for n, v in io.items()]


def io_rate(u: ContainerUsage) -> float | None:
    return u.io_bytes_per_second


@pytest.mark.parametrize(
    ("containers", "expected"),
    [
        ({"jellyfin": 50.0, "tdarr": 190.0}, "active"),
        ({"jellyfin": 2.0}, "active"),  # at the threshold
        ({"jellyfin": 1.9, "tdarr": 190.0}, "quiet"),  # bulk work alone is not protected work
        ({"pihole": 30.0}, "active"),  # protected_containers count as tier 1 does
        ({"tdarr": 190.0}, "quiet"),  # nothing protected running
        ({}, "quiet"),
        ({"jellyfin": None}, "unknown"),  # its first sample has no rate yet
        ({"jellyfin": None, "pihole": 5.0}, "active"),  # one known active is enough
        ({"jellyfin": 0.5, "pihole": None}, "unknown"),
    ],
)
def test_protected_activity(containers: dict[str, float | None], expected: str) -> None:
    assert protected_activity(MATCHER, usage(**containers), io_rate, 2.0) == expected


def test_no_resources_fact_is_unknown() -> None:
    assert protected_activity(MATCHER, None, io_rate, 2.0) == "unknown"


YIELDING = YieldState(yielding=True)
QUIET_SINCE_100 = YieldState(yielding=True, quiet_since=100.0)


@pytest.mark.parametrize(
    ("before", "activity", "stalled", "now", "after", "wake"),
    [
        # Starts on activity or on a stall, whatever came before.
        (YieldState(), "active", False, 100.0, YIELDING, None),
        (YieldState(), "quiet", True, 100.0, YIELDING, None),
        (YieldState(), "unknown", True, 100.0, YIELDING, None),
        (QUIET_SINCE_100, "active", False, 105.0, YIELDING, None),  # a quiet spell ends
        # Nothing to yield for.
        (YieldState(), "quiet", False, 100.0, YieldState(), None),
        (YieldState(), "unknown", False, 100.0, YieldState(), None),
        # Quiet starts the hold; it ends hold_seconds after the first quiet reading.
        (YIELDING, "quiet", False, 100.0, QUIET_SINCE_100, 110.0),
        (QUIET_SINCE_100, "quiet", False, 109.9, QUIET_SINCE_100, 110.0),
        (QUIET_SINCE_100, "quiet", False, 110.0, YieldState(), None),
        # Unknown never ends it, and does not move the hold.
        (YIELDING, "unknown", False, 100.0, YIELDING, None),
        (QUIET_SINCE_100, "unknown", False, 200.0, QUIET_SINCE_100, None),
    ],
)
def test_next_state(
    before: YieldState,
    activity: str,
    stalled: bool,
    now: float,
    after: YieldState,
    wake: float | None,
) -> None:
    assert next_state(True, HOLD, before, activity, stalled, now) == (after, wake)  # type: ignore[arg-type]


def test_off_never_yields() -> None:
    assert next_state(False, HOLD, YIELDING, "active", True, 100.0) == (YieldState(), None)


def test_a_zero_hold_ends_at_the_first_quiet_reading() -> None:
    assert next_state(True, 0.0, YIELDING, "quiet", False, 100.0) == (YieldState(), None)


ON_A = YieldState(yielding=True, disks=["8:0"])
ON_AB = YieldState(yielding=True, disks=["8:0", "8:16"])


@pytest.mark.parametrize(
    ("before", "activity", "disks", "now", "after"),
    [
        # It starts on the disks protected work uses, or on all when those are not known.
        (YieldState(), "active", frozenset({"8:0"}), 100.0, ON_A),
        (YieldState(), "active", None, 100.0, YIELDING),
        # It only widens while it lasts: a disk once used stays until the yield ends.
        (ON_A, "active", frozenset({"8:16"}), 101.0, ON_AB),
        (ON_AB, "active", frozenset({"8:0"}), 102.0, ON_AB),
        (ON_A, "active", None, 103.0, YIELDING),
        (YIELDING, "active", frozenset({"8:0"}), 104.0, YIELDING),
        # The hold keeps the disks; a new yield starts afresh.
        (ON_AB, "quiet", None, 100.0, ON_AB.model_copy(update={"quiet_since": 100.0})),
        (
            YieldState(),
            "active",
            frozenset({"8:16"}),
            200.0,
            YieldState(yielding=True, disks=["8:16"]),
        ),
    ],
)
def test_where_it_yields(
    before: YieldState,
    activity: str,
    disks: frozenset[str] | None,
    now: float,
    after: YieldState,
) -> None:
    state, _ = next_state(True, HOLD, before, activity, False, now, disks)  # type: ignore[arg-type]
    assert state == after
