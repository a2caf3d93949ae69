"""CPU yield (part of protect): tier 3 runs idle-class while protected work runs. Table tests
on a fake clock; when a yield starts and ends is test_rules_yielding's."""

from __future__ import annotations

from services.governor.rule import Target
from services.governor.rules import cpu_yield
from shared.config.model import WardenConfig
from shared.messages import (
    ContainerFact,
    ContainerUsage,
    HostUsage,
    PressureFact,
    ResourcesFact,
)
from shared.messages.facts import ContainerState
from tests.support.views import own_stall, steps, view

CFG = WardenConfig.model_validate(
    {
        "host_id": "h",
        "tiers": {
            1: {"containers": ["jellyfin"]},
            2: {"containers": ["sonarr"]},
            3: {"containers": ["tdarr", "kopia"]},
        },
        "protected_containers": ["pihole"],
        "protect": {"cpu_yield_hold_seconds": 10, "active_core_percent": 2},
    }
)
MATCHER = CFG.tier_matcher()


def target(name: str, tier: int, state: ContainerState = "running") -> Target:
    return ContainerFact(id=name * 2, name=name, state=state, tier=tier), tier


TARGETS = (target("sonarr", 2), target("tdarr", 3), target("kopia", 3, "paused"))
CORES = 4


def usage(**core_percent: float | None) -> list[ContainerUsage]:
    """Each container's CPU use in % of one core (the fact says % of the whole machine)."""
    return [
        ContainerUsage(
            id=name,
            name=name,
            source="",
            cpu_percent=None if pct is None else pct / CORES,
        )
        for name, pct in core_percent.items()
    ]


def resources(**core_percent: float | None) -> ResourcesFact:
    return ResourcesFact(
        host="h", machine=HostUsage(cpu_count=CORES), containers=usage(**core_percent)
    )


def run(*readings: tuple[float, ResourcesFact | None, PressureFact | None]) -> list[set[str]]:
    """Which containers are asked to yield after each reading (time, resources, pressure)."""
    views = [
        view(CFG, now=t, targets=TARGETS, resources=r, pressure=p, cpu_count=CORES)
        for t, r, p in readings
    ]
    return [
        {n for n, i in out.containers.items() if i.cpu_idle} for out in steps(cpu_yield.RULE, views)
    ]


BOTH = {"tdarr", "kopia"}  # every tier-3 container, paused or not; tier 2 keeps its weight


def test_a_stream_that_plays_then_stops() -> None:
    assert run(
        (0.0, resources(jellyfin=0.5, tdarr=190.0), None),
        (5.0, resources(jellyfin=30.0, tdarr=150.0), None),
        (10.0, resources(jellyfin=25.0, tdarr=160.0), None),
        (15.0, resources(jellyfin=0.3, tdarr=190.0), None),  # paused: the hold starts
        (20.0, resources(jellyfin=40.0, tdarr=150.0), None),  # plays again within the hold
        (25.0, resources(jellyfin=0.3, tdarr=190.0), None),
        (30.0, resources(jellyfin=0.3, tdarr=190.0), None),
        (35.0, resources(jellyfin=0.3, tdarr=190.0), None),  # 10 s quiet: ends
    ) == [set(), BOTH, BOTH, BOTH, BOTH, BOTH, BOTH, set()]


def test_flapping_at_the_threshold_does_not_flap_the_yield() -> None:
    around = [2.1, 1.9, 2.0, 1.8, 2.2, 1.9]
    out = run(*((5.0 * n, resources(jellyfin=pct), None) for n, pct in enumerate(around)))
    assert out == [BOTH] * len(around)


def test_a_cpu_stall_yields_with_the_stream_below_the_threshold() -> None:
    assert run(
        (0.0, resources(jellyfin=1.0), own_stall("jellyfin", "cpu", 25.0)),
        (2.0, resources(jellyfin=1.0), own_stall("jellyfin", "cpu", 1.0, fired=True)),
        (4.0, resources(jellyfin=1.0), own_stall("jellyfin", "cpu", 1.0)),
        (14.0, resources(jellyfin=1.0), own_stall("jellyfin", "cpu", 1.0)),
    ) == [BOTH, BOTH, BOTH, set()]


def test_unknown_readings_never_start_it() -> None:
    assert run((0.0, None, None), (5.0, resources(jellyfin=None), None), (10.0, None, None)) == [
        set(),
        set(),
        set(),
    ]


def test_the_reason_is_the_same_for_the_whole_episode() -> None:
    views = [
        view(CFG, now=t, targets=TARGETS, resources=resources(jellyfin=p), cpu_count=CORES)
        for t, p in ((0.0, 50.0), (5.0, 80.0), (10.0, 0.1), (15.0, 0.1))
    ]
    outs = steps(cpu_yield.RULE, views)
    reasons = {tuple(map(str, out.containers["tdarr"].reasons)) for out in outs}
    assert reasons == {
        ("cpu_yield(protected.cpu_core_percent > 2, or a stall on cpu; ends 10s after)",)
    }


def test_wakes_when_the_hold_ends() -> None:
    outs = steps(
        cpu_yield.RULE,
        [
            view(CFG, now=t, targets=TARGETS, resources=resources(jellyfin=p), cpu_count=CORES)
            for t, p in ((0.0, 50.0), (3.0, 0.0))
        ],
    )
    assert [o.wake_at for o in outs] == [None, 13.0]
