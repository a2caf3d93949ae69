"""I/O yield (part of protect): tier 3 gets io.max while protected work does I/O. Table tests
on a fake clock; when a yield starts and ends is test_rules_yielding's."""

from __future__ import annotations

import pytest

from services.governor.policy import Facts, Memory, decide
from services.governor.rule import Target
from services.governor.rules import io_yield
from shared.config.model import WardenConfig
from shared.messages import (
    ContainerFact,
    ContainerInventory,
    ContainerUsage,
    HostUsage,
    IoMax,
    IoRate,
    PressureFact,
    PressureLine,
    ResourcePressure,
    ResourcesFact,
)
from shared.messages.facts import ContainerState
from shared.units import MB_PER_SEC
from tests.support.views import own_stall, steps, view

CFG = WardenConfig.model_validate(
    {
        "host_id": "h",
        "tiers": {
            1: {"containers": ["jellyfin"]},
            2: {"containers": ["sonarr"]},
            3: {"containers": ["tdarr", "kopia"]},
        },
        "protect": {"io_yield_hold_seconds": 10, "active_io_mb_per_sec": 0.5},
    }
)


def target(name: str, tier: int, state: ContainerState = "running") -> Target:
    return ContainerFact(id=name * 2, name=name, state=state, tier=tier), tier


TARGETS = (target("sonarr", 2), target("tdarr", 3), target("kopia", 3, "paused"))
CAP = IoMax(read_bps=20 * MB_PER_SEC, write_bps=20 * MB_PER_SEC)
BOTH = {"tdarr", "kopia"}  # every tier-3 container: one starting a job starts capped


def resources(**mb_per_sec: float | None) -> ResourcesFact:
    return ResourcesFact(
        host="h",
        machine=HostUsage(cpu_count=2),
        containers=[
            ContainerUsage(
                id=n, name=n, source="", io_bytes_per_second=None if v is None else v * MB_PER_SEC
            )
            for n, v in mb_per_sec.items()
        ],
    )


def on_disks(**use: dict[str, float] | float) -> ResourcesFact:
    """Each container's I/O per disk ("major:minor" -> MB/s), or in MB/s all told (not
    known per disk)."""

    def usage(name: str, disks: dict[str, float] | float) -> ContainerUsage:
        if isinstance(disks, float):
            return ContainerUsage(
                id=name, name=name, source="", io_bytes_per_second=disks * MB_PER_SEC
            )
        return ContainerUsage(
            id=name,
            name=name,
            source="",
            io_bytes_per_second=sum(disks.values()) * MB_PER_SEC,
            io_bytes_per_second_by_disk={d: v * MB_PER_SEC for d, v in disks.items()},
        )

    return ResourcesFact(
        host="h", machine=HostUsage(cpu_count=2), containers=[usage(*u) for u in use.items()]
    )


def capped_on(*disks: str) -> IoMax:
    rate = IoRate(read_bps=20 * MB_PER_SEC, write_bps=20 * MB_PER_SEC)
    return IoMax(disks=dict.fromkeys(disks, rate))


def caps(
    *readings: tuple[float, ResourcesFact | None, PressureFact | None],
    cfg: WardenConfig = CFG,
) -> list[dict[str, IoMax | None]]:
    """Each tier-3 container's cap after each reading (time, resources, pressure)."""
    views = [view(cfg, now=t, targets=TARGETS, resources=r, pressure=p) for t, r, p in readings]
    outs = steps(io_yield.RULE, views)
    assert all(i.tier == 3 for out in outs for i in out.containers.values())
    return [{n: i.io_max for n, i in out.containers.items()} for out in outs]


def run(
    *readings: tuple[float, ResourcesFact | None, PressureFact | None],
    cfg: WardenConfig = CFG,
) -> list[set[str]]:
    """Which containers are capped (on every disk) after each reading."""
    outs = caps(*readings, cfg=cfg)
    assert all(cap == CAP for out in outs for cap in out.values())
    return [set(out) for out in outs]


def test_a_stream_that_plays_then_stops() -> None:
    assert run(
        (0.0, resources(jellyfin=0.1, tdarr=900.0), None),  # bulk work alone: its whole disk
        (5.0, resources(jellyfin=6.0, tdarr=900.0), None),
        (10.0, resources(jellyfin=4.0, tdarr=20.0), None),
        (15.0, resources(jellyfin=0.0, tdarr=20.0), None),  # paused: the hold starts
        (20.0, resources(jellyfin=8.0, tdarr=20.0), None),  # reads again within the hold
        (25.0, resources(jellyfin=0.0, tdarr=20.0), None),
        (35.0, resources(jellyfin=0.0, tdarr=20.0), None),  # 10 s without: ends
    ) == [set(), BOTH, BOTH, BOTH, BOTH, BOTH, set()]


def test_an_io_stall_caps_with_the_stream_below_the_threshold() -> None:
    assert run(
        (0.0, resources(jellyfin=0.1), own_stall("jellyfin", "io", 25.0)),
        (2.0, resources(jellyfin=0.1), own_stall("jellyfin", "io", 1.0, fired=True)),
        (4.0, resources(jellyfin=0.1), own_stall("jellyfin", "io", 1.0)),
        (14.0, resources(jellyfin=0.1), own_stall("jellyfin", "io", 1.0)),
    ) == [BOTH, BOTH, BOTH, set()]


def test_unknown_readings_never_start_it() -> None:
    assert run((0.0, None, None), (5.0, resources(jellyfin=None), None)) == [set(), set()]


@pytest.mark.parametrize("off", [{"enabled": False}, {"io_yield": False}])
def test_off_never_caps(off: dict[str, bool]) -> None:
    cfg = CFG.model_copy(update={"protect": CFG.protect.model_copy(update=off)})
    assert run((0.0, resources(jellyfin=50.0), own_stall("jellyfin", "io", 90.0)), cfg=cfg) == [
        set()
    ]


def test_the_reason_is_the_same_for_the_whole_episode() -> None:
    views = [
        view(CFG, now=t, targets=TARGETS, resources=resources(jellyfin=mb))
        for t, mb in ((0.0, 5.0), (5.0, 9.0), (10.0, 0.0), (15.0, 0.0))
    ]
    reasons = {tuple(map(str, o.containers["tdarr"].reasons)) for o in steps(io_yield.RULE, views)}
    assert reasons == {
        ("io_yield(protected.io_mb_per_sec > 0.5, or a stall on io; ends 10s after)",)
    }


def test_a_tighter_limit_from_another_rule_wins() -> None:
    """ADRG's io rule caps tier 3 at 5/2 MiB/s when the host's io avg10 passes 60."""
    facts = Facts(
        pressure=PressureFact(
            host="h", io=ResourcePressure(some=PressureLine(avg10=80, avg60=0, avg300=0, total=1))
        ),
        pressure_seen_at=100.0,
        resources=resources(jellyfin=6.0, tdarr=300.0),
        resources_seen_at=100.0,
        inventory=ContainerInventory(host="h", cpu_count=2, containers=[c for c, _ in TARGETS]),
    )
    decision = decide(CFG, CFG.tier_matcher(), facts, Memory(), 100.0)
    tdarr = decision.containers["tdarr"]
    assert tdarr.io_max == IoMax(read_bps=5 * MB_PER_SEC, write_bps=2 * MB_PER_SEC)
    assert [r.rule for r in tdarr.reasons] == ["io_pressure", "io_yield"]


def test_the_cap_holds_on_the_disks_protected_work_uses_and_only_widens() -> None:
    """A stream on one disk (8:16) leaves bulk work its own (8:0); a second disk the stream
    reads from joins the cap until the yield ends."""
    assert caps(
        (0.0, on_disks(jellyfin={"8:16": 6.0}, tdarr={"8:0": 900.0}), None),
        (5.0, on_disks(jellyfin={"8:32": 6.0}, tdarr={"8:0": 900.0}), None),
        (10.0, on_disks(jellyfin={"8:16": 6.0}, tdarr={"8:0": 900.0}), None),
        (15.0, on_disks(jellyfin={}, tdarr={"8:0": 900.0}), None),  # the hold keeps both
        (25.0, on_disks(jellyfin={}, tdarr={"8:0": 900.0}), None),
    ) == [
        dict.fromkeys(BOTH, capped_on("8:16")),
        dict.fromkeys(BOTH, capped_on("8:16", "8:32")),
        dict.fromkeys(BOTH, capped_on("8:16", "8:32")),
        dict.fromkeys(BOTH, capped_on("8:16", "8:32")),
        {},
    ]


@pytest.mark.parametrize(
    ("stream", "stall", "why"),
    [
        (6.0, None, "its disks are not known"),
        ({"8:16": 6.0}, own_stall("sonarr-not-protected", "io", 90.0), "known"),
        ({}, own_stall("jellyfin", "io", 40.0), "it stalls and moves nothing: anywhere"),
    ],
)
def test_where_protected_work_runs_is_not_known_the_cap_is_on_every_disk(
    stream: dict[str, float] | float, stall: PressureFact | None, why: str
) -> None:
    (out,) = caps((0.0, on_disks(jellyfin=stream, tdarr={"8:0": 900.0}), stall))
    expected = capped_on("8:16") if why == "known" else CAP
    assert out == dict.fromkeys(BOTH, expected), why


def test_a_limit_on_every_disk_and_one_on_the_stream_s_disk_merge_per_disk() -> None:
    """ADRG's io rule (5/2 MiB/s on every disk) and the yield (20 on the stream's disk):
    the tighter of the two holds on each disk."""
    facts = Facts(
        pressure=PressureFact(
            host="h", io=ResourcePressure(some=PressureLine(avg10=80, avg60=0, avg300=0, total=1))
        ),
        pressure_seen_at=100.0,
        resources=on_disks(jellyfin={"8:16": 6.0}, tdarr={"8:0": 300.0}),
        resources_seen_at=100.0,
        inventory=ContainerInventory(host="h", cpu_count=2, containers=[c for c, _ in TARGETS]),
    )
    tdarr = decide(CFG, CFG.tier_matcher(), facts, Memory(), 100.0).containers["tdarr"]
    adrg = IoRate(read_bps=5 * MB_PER_SEC, write_bps=2 * MB_PER_SEC)
    assert tdarr.io_max == IoMax(
        read_bps=adrg.read_bps, write_bps=adrg.write_bps, disks={"8:16": adrg}
    )
    assert tdarr.io_max.on("8:16") == tdarr.io_max.on("8:0") == adrg
