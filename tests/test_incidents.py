"""Incidents, table-driven on a fake clock: when one opens and closes (flapping, several
protected containers, unknown readings), who the contenders are, what Warden did and when,
and the sentence that tells it."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest

from services.governor.incidents.actions import Held, held_of
from services.governor.incidents.book import Book, Seen, Step, restored, step
from services.governor.incidents.readings import bounded
from services.governor.incidents.sentence import sentence
from shared.config.model import WardenConfig
from shared.messages import (
    ContainerIntent,
    ContainerPressure,
    ContainerUsage,
    GpuDevice,
    GpuFact,
    GpuProcess,
    HostUsage,
    IoMax,
    IoRate,
    PressureFact,
    PressureLine,
    ProcessGroupIntent,
    ProcessGroupUsage,
    Reason,
    ResourcePressure,
    ResourcesFact,
    StallShare,
    StreamSession,
    StreamsFact,
)
from shared.messages.facts import StreamState
from shared.messages.incidents import Incident, IncidentLog, SharePoint
from tests.support.views import STREAM_TIERS, stall_fact, view

MB = 1024**2
SDA, SDB = "8:0", "8:16"
# 21:40:00 UTC on some day.
T0 = 1_700_000_000 - 1_700_000_000 % 86400 + 21 * 3600 + 40 * 60
CFG = WardenConfig.model_validate(
    {
        "tiers": STREAM_TIERS,
        "incidents": {"close_after_seconds": 10, "window_seconds": 30},
        "process_groups": [{"name": "handbrake", "match_name": ["HandBrakeCLI"]}],
    }
)


def utc(t: float, fmt: str) -> str:
    return time.strftime(fmt, time.gmtime(t))


@dataclass(frozen=True)
class At:
    """One moment: a pressure reading (protected container -> io share; None: unknown; the
    reading itself None: none came), usage, what the decision holds, the streams."""

    t: float
    shares: dict[str, float | None] | None = None
    usage: dict[str, tuple[float, str]] | None = None
    held: dict[str, float] = field(default_factory=dict)
    streams: StreamsFact | None = None
    fired: Sequence[str] = ()
    stale: bool = False


def reading(shares: dict[str, float | None], fired: Sequence[str] = ()) -> PressureFact:
    host_io = ResourcePressure(some=PressureLine(avg10=12, avg60=3, avg300=1, total=1))
    return stall_fact(shares, fired, io=host_io)


def jellyfin_waits(*stall: StallShare) -> PressureFact:
    """jellyfin's own cgroup stalling as given, and no host reading."""
    return PressureFact(
        host="h",
        containers=[ContainerPressure(id="j", name="jellyfin", source="", stall=list(stall))],
    )


def usage(use: dict[str, tuple[float, str]]) -> ResourcesFact:
    """Container -> (MB/s, the disk it uses)."""
    return ResourcesFact(
        host="h",
        machine=HostUsage(cpu_count=4),
        containers=[
            ContainerUsage(
                id=name,
                name=name,
                source="",
                cpu_percent=5,
                io_bytes_per_second=mbs * MB,
                io_bytes_per_second_by_disk={disk: mbs * MB},
            )
            for name, (mbs, disk) in use.items()
        ],
    )


def capped(limits: dict[str, float]) -> dict[str, Held]:
    intents = {
        name: ContainerIntent(
            tier=3,
            io_max=IoMax(disks={SDA: IoRate(read_bps=int(mbs * MB), write_bps=int(mbs * MB))}),
            reasons=[Reason(rule="protect", metric="io.some_stall_percent", threshold=10)],
        )
        for name, mbs in limits.items()
    }
    return held_of(intents, {})


def run(moments: Sequence[At], cfg: WardenConfig = CFG, book: Book | None = None) -> list[Step]:
    book = book or Book()
    steps = []
    pressure: PressureFact | None = None
    seen_at: float | None = None
    resources: ResourcesFact | None = None
    resources_at: float | None = None
    for m in moments:
        if m.shares is not None:
            pressure, seen_at = reading(m.shares, m.fired), m.t
        if m.stale:
            pressure = None
        if m.usage is not None:
            resources, resources_at = usage(m.usage), m.t
        v = view(
            cfg,
            now=m.t,
            pressure=pressure,
            pressure_seen_at=seen_at,
            resources=resources,
            stream_report=m.streams,
        )
        out = step(book, Seen(v, resources_at, capped(m.held)), utc)
        steps.append(out)
        book = out.book
    return steps


def incidents(out: Step) -> list[Incident]:
    return out.book.log("h", CFG.incidents).incidents


def phases(steps: Sequence[Step]) -> list[list[str]]:
    return [[str(e.details["phase"]) for e in s.events] for s in steps]


HOG = {"tdarr": (180.0, SDA), "jellyfin": (3.0, SDA)}


@pytest.mark.parametrize(
    ("moments", "expected_phases", "expected"),
    [
        # Calm, or at the share but not above it: nothing.
        ([At(0, {"jellyfin": 5}), At(2, {"jellyfin": 10})], [[], []], []),
        # A stall opens one; ten seconds of calm close it, ending when the calm began.
        (
            [At(0, {"jellyfin": 38}), At(2, {"jellyfin": 20}), At(4, {"jellyfin": 1}),
             At(13.9, {"jellyfin": 0}), At(14, {"jellyfin": 0})],
            [["opened"], [], [], [], ["closed"]],
            [(0, 4, "calm", 38)],
        ),
        # Flapping: calm for less than close_after between two stalls is one incident.
        (
            [At(0, {"jellyfin": 12}), At(2, {"jellyfin": 9}), At(8, {"jellyfin": 30}),
             At(10, {"jellyfin": 2}), At(19, {"jellyfin": 11}), At(21, {"jellyfin": 0}),
             At(31, {"jellyfin": 0})],
            [["opened"], [], [], [], [], [], ["closed"]],
            [(0, 21, "calm", 30)],
        ),
        # ... and one that lasts longer is two.
        (
            [At(0, {"jellyfin": 12}), At(2, {"jellyfin": 0}), At(12, {"jellyfin": 0}),
             At(14, {"jellyfin": 20}), At(16, {"jellyfin": 0}), At(26, {"jellyfin": 0})],
            [["opened"], [], ["closed"], ["opened"], [], ["closed"]],
            [(14, 16, "calm", 20), (0, 2, "calm", 12)],
        ),
        # The trigger alone opens one, with no share to tell.
        ([At(0, {"jellyfin": None}, fired=("jellyfin",))], [["opened"]], [(0, None, None, None)]),
        # Unknown never opens one: no reading, a reading that cannot say, none listed.
        (
            [At(0), At(2, {"jellyfin": None}), At(4, {}), At(6, {"tdarr": 90})],
            [[], [], [], []],
            [],
        ),
        # Unknown never calms one: it closes once its readings stay unknown close_after,
        # ending at the last stall seen.
        (
            [At(0, {"jellyfin": 40}), At(2, {"jellyfin": 40}), At(4, {"jellyfin": None}),
             At(13, {"jellyfin": None}), At(14, {"jellyfin": None})],
            [["opened"], [], [], [], ["closed"]],
            [(0, 2, "unknown", 40)],
        ),
        # A pressure fact gone stale is unknown too.
        (
            [At(0, {"jellyfin": 40}), At(5, stale=True), At(15, stale=True)],
            [["opened"], [], ["closed"]],
            [(0, 0, "unknown", 40)],
        ),
        # The same reading seen again (another fact arrived) counts once.
        ([At(0, {"jellyfin": 40}), At(1), At(2)], [["opened"], [], []], [(0, None, None, 40)]),
    ],
)  # fmt: skip
def test_opening_and_closing(
    moments: list[At], expected_phases: list[list[str]], expected: list[tuple]
) -> None:
    steps = run(moments)
    assert phases(steps) == expected_phases
    found = incidents(steps[-1])
    assert [
        (
            i.started_at,
            i.ended_at,
            i.end_reason,
            round(i.peak_percent) if i.peak_percent is not None else None,
        )
        for i in found
    ] == expected


def test_several_protected_containers_make_one_incident_per_resource() -> None:
    steps = run(
        [
            At(0, {"jellyfin": 40, "plex": 0}),
            At(2, {"jellyfin": 5, "plex": 55}),
            At(4, {"jellyfin": 0, "plex": 30}),
            At(6, {"jellyfin": 0, "plex": 0}),
            At(16, {"jellyfin": 0, "plex": 0}),
        ]
    )
    assert phases(steps) == [["opened"], [], [], [], ["closed"]]
    (incident,) = incidents(steps[-1])
    assert [(w.name, w.peak_percent) for w in incident.waiters] == [
        ("jellyfin", 40),
        ("plex", 55),
    ]
    assert (incident.peak_percent, incident.ended_at) == (55, 6)
    # One of them unknown, the other calm: not known to be calm.
    steps = run([At(0, {"jellyfin": 40, "plex": 0}), At(2, {"jellyfin": 0, "plex": None})])
    still = steps[-1].book.open["stall-io"]
    assert (still.calm_since, still.unknown_since) == (None, 2)
    # A tier-0 container counts; tier 2 and 3 never do.
    assert phases(run([At(0, {"pihole": 50})])) == [["opened"]]
    assert phases(run([At(0, {"sonarr": 90, "tdarr": 90})])) == [[]]


CONTENDERS = [
    # tdarr writes 180 MB/s on the stream's disk, sonarr 20, kopia 300 on another disk:
    # ranked by their use of the disks the stalled container used.
    (
        {"jellyfin": (3, SDA), "tdarr": (180, SDA), "sonarr": (20, SDA), "kopia": (300, SDB)},
        [("tdarr", 180, True), ("sonarr", 20, True)],
    ),
    # The stalled container's disks not known: everyone's whole I/O.
    (
        {"tdarr": (180, SDA), "kopia": (300, SDB)},
        [("kopia", 300, None), ("tdarr", 180, None)],
    ),
]


@pytest.mark.parametrize(("use", "expected"), CONTENDERS)
def test_contenders_are_ranked_by_their_use_of_the_contended_disk(
    use: dict[str, tuple[float, str]], expected: list[tuple[str, float, bool | None]]
) -> None:
    steps = run([At(-20, usage=use), At(-10, usage=use), At(0, {"jellyfin": 40})])
    (incident,) = incidents(steps[-1])
    assert [(c.name, round(c.score / MB), c.same_disk) for c in incident.contenders] == expected
    assert (incident.contenders_from, incident.contenders_to) == (-20, -10)
    assert all(c.name != "jellyfin" for c in incident.contenders)


def test_contenders_are_averaged_over_the_window_before_the_start() -> None:
    steps = run(
        [
            At(-50, usage={"kopia": (500, SDA)}),  # before the window: not counted
            At(-20, usage={"tdarr": (100, SDA), "jellyfin": (1, SDA)}),
            At(-10, usage={"tdarr": (200, SDA), "sonarr": (90, SDA), "jellyfin": (1, SDA)}),
            At(0, {"jellyfin": 40}),
        ]
    )
    (incident,) = incidents(steps[-1])
    assert [(c.name, round(c.score / MB)) for c in incident.contenders] == [
        ("tdarr", 150),
        ("sonarr", 90),
    ]
    assert incident.disks == [SDA]


def test_contenders_wait_for_the_first_usage_reading_when_none_came_before() -> None:
    steps = run([At(0, {"jellyfin": 40}), At(0.3, usage={"tdarr": (180, SDA)})])
    assert incidents(steps[0])[0].contenders == []
    assert "no usage reading says who else was busy" in incidents(steps[0])[0].sentence
    (incident,) = incidents(steps[1])
    assert [c.name for c in incident.contenders] == ["tdarr"]
    assert steps[1].changed
    # ... and their use goes on the timeline from then on.
    assert [list(p.use) for p in incident.use] == [["tdarr"]]


def test_process_groups_and_gpu_use_are_contenders_too() -> None:
    resources = ResourcesFact(
        host="h",
        machine=HostUsage(cpu_count=4),
        process_groups=[
            ProcessGroupUsage(
                name="handbrake", pids=[4242], cpu_percent=80, write_bytes_per_second=50 * MB
            )
        ],
        containers=[
            ContainerUsage(id="t", name="tdarr", source="", cpu_percent=30, io_bytes_per_second=0)
        ],
    )
    gpu = GpuFact(
        host="h",
        available=True,
        gpus=[
            GpuDevice(
                vendor="nvidia",
                index=0,
                source="nvml",
                processes=[
                    GpuProcess(pid=4242, utilization_percent=60, used_memory_bytes=900 * MB),
                    GpuProcess(pid=7, container="tdarr", utilization_percent=20),
                ],
            )
        ],
    )
    cpu_stall = jellyfin_waits(StallShare(resource="cpu", some_percent=25, seconds=2))
    steps = []
    book = Book()
    for t, pressure in ((-5, None), (0, cpu_stall)):
        v = view(CFG, now=t, pressure=pressure, pressure_seen_at=t, resources=resources, gpu=gpu)
        out = step(book, Seen(v, -5, {}), utc)
        steps.append(out)
        book = out.book
    (incident,) = incidents(steps[-1])
    assert incident.resource == "cpu"
    assert [(c.name, c.kind, c.score, c.gpu_percent) for c in incident.contenders] == [
        ("handbrake", "process_group", 80, 60),
        ("tdarr", "container", 30, 20),
    ]
    assert incident.contenders[0].gpu_memory_bytes == 900 * MB
    assert incident.sentence.startswith(
        "since 00:00: jellyfin waited on CPU 25 % of the time; handbrake was using 80 % of the CPU"
    )


def test_what_warden_did_and_whether_the_stall_ended_after_it() -> None:
    steps = run(
        [
            At(-10, usage=HOG),
            At(0, {"jellyfin": 38}),
            At(0.4, usage=HOG),
            At(1.6, held={"tdarr": 12}),
            At(2, {"jellyfin": 30}, held={"tdarr": 12}),
            At(4, {"jellyfin": 6}, held={"tdarr": 12}),
            At(5.6, {"jellyfin": 4}, held={"tdarr": 3}),
            At(15.6, {"jellyfin": 0}, held={"tdarr": 3}),
        ]
    )
    assert phases(steps)[-1] == ["closed"]
    (incident,) = incidents(steps[-1])
    assert [(a.at, a.target, a.what, a.rules) for a in incident.actions] == [
        (1.6, "tdarr", "io.max 12 MB/s on 8:0", ["protect"]),
        (5.6, "tdarr", "io.max 3 MB/s on 8:0", ["protect"]),
    ]
    assert incident.time_to_action_seconds == pytest.approx(1.6)
    # The last reading before the action, and the first a PSI window (2 s) after it.
    assert (incident.percent_before_action, incident.percent_after_action) == (38, 6)
    assert incident.cleared_after_action is True
    assert incident.ended_at == 4
    # The timeline: the stall share at each reading, tdarr's use at each usage reading.
    assert [(p.t, p.percent) for p in incident.stall] == [
        (0, 38),
        (2, 30),
        (4, 6),
        (5.6, 4),
        (15.6, 0),
    ]
    assert [p.t for p in incident.use] == [-10, 0.4]
    assert incident.sentence == (
        "00:00: jellyfin waited on disk 38 % of the time; tdarr was using the same disk at "
        "180 MB/s; tdarr was capped at 00:00:01 (1.6 s); the stall ended 2.4 s later"
    )
    events = [e for s in steps for e in s.events]
    assert [e.details["phase"] for e in events] == ["opened", "closed"]
    assert events[-1].message == incident.sentence
    assert events[-1].details["time_to_action_seconds"] == pytest.approx(1.6)


def test_limits_in_force_before_the_stall_are_no_action() -> None:
    steps = run(
        [
            At(-5, held={"tdarr": 20}),
            At(0, {"jellyfin": 40}, held={"tdarr": 20}),
            At(2, {"jellyfin": 0}, held={"tdarr": 20}),
            At(12, {"jellyfin": 0}, held={}),
        ]
    )
    (incident,) = incidents(steps[-1])
    assert incident.actions == [] and incident.cleared_after_action is None
    # The first decision a (re)started governor makes is no action either.
    assert (
        run([At(0, {"jellyfin": 40}, held={"tdarr": 5})])[0].book.open["stall-io"].incident.actions
        == []
    )


def test_an_action_counts_for_the_incidents_whose_resource_it_answers() -> None:
    idle = held_of(
        {"tdarr": ContainerIntent(tier=3, cpu_idle=True, reasons=[Reason(rule="cpu_yield")])}, {}
    )
    cpu_and_io = jellyfin_waits(
        StallShare(resource="cpu", some_percent=30, seconds=2),
        StallShare(resource="io", some_percent=30, seconds=2),
    )
    first = step(
        Book(held={}),
        Seen(view(CFG, now=0, pressure=cpu_and_io, pressure_seen_at=0), None, {}),
        utc,
    )
    out = step(
        first.book, Seen(view(CFG, now=1, pressure=cpu_and_io, pressure_seen_at=0), None, idle), utc
    )
    assert [a.what for a in out.book.open["stall-cpu"].incident.actions] == ["cpu.idle"]
    assert out.book.open["stall-io"].incident.actions == []


def test_a_pause_of_a_process_group_is_an_action() -> None:
    before = held_of({}, {})
    after = held_of(
        {},
        {"handbrake": ProcessGroupIntent(paused=True, reasons=[Reason(rule="gpu_share")])},
    )
    steps = [
        step(Book(held=before), Seen(view(CFG, now=0, pressure=reading({"jellyfin": 40}),
                                          pressure_seen_at=0), None, before), utc)
    ]  # fmt: skip
    out = step(
        steps[0].book,
        Seen(view(CFG, now=1, pressure=reading({"jellyfin": 40}), pressure_seen_at=0), None, after),
        utc,
    )
    (action,) = out.book.open["stall-io"].incident.actions
    assert (action.target, action.kind, action.what) == ("handbrake", "process_group", "paused")
    assert "handbrake was paused at 00:00:01 (1.0 s)" in out.book.open["stall-io"].incident.sentence


def session(state: StreamState, title: str = "Dune", user: str = "alice") -> StreamSession:
    return StreamSession(id=title, user=user, title=title, state=state, transcode=False)


def streams(*sessions: StreamSession) -> StreamsFact:
    return StreamsFact(
        host="h", source="jellyfin api", provider="jellyfin", count=1, sessions=list(sessions)
    )


def test_a_buffering_stream_opens_an_incident_and_its_end_closes_it() -> None:
    playing, buffering = streams(session("playing")), streams(session("buffering"))
    steps = run(
        [
            At(-5, usage={"tdarr": (180, SDA)}, streams=playing),
            At(0, {"jellyfin": 3}, streams=buffering),
            At(3, streams=playing),
            At(13, streams=playing),
        ]
    )
    assert phases(steps) == [[], ["opened"], [], ["closed"]]
    (incident,) = incidents(steps[-1])
    assert (incident.kind, incident.resource, incident.peak_percent) == ("buffering", "io", 12)
    assert [s.title for s in incident.buffering] == ["Dune"]
    assert incident.sentence == (
        "00:00: 'Dune' (alice, jellyfin) buffered; the host waited on disk up to 12 % of the "
        "time; tdarr was using the disks at 180 MB/s; Warden did not act; the buffering "
        "ended after 3.0 s"
    )
    # Unknown streams neither open nor calm one; off in the config, none opens.
    assert phases(run([At(0, {"jellyfin": 3})])) == [[]]
    off = incidents_cfg(buffering=False)
    assert phases(run([At(0, {"jellyfin": 3}, streams=buffering)], cfg=off)) == [[]]


def test_the_streams_playing_at_the_start_are_kept() -> None:
    report = streams(session("playing"), session("paused", "Heat", "bob"))
    (incident,) = incidents(run([At(0, {"jellyfin": 40}, streams=report)])[0])
    assert [(s.title, s.user, s.provider) for s in incident.streams or []] == [
        ("Dune", "alice", "jellyfin")
    ]
    # No word from the media server: unknown, not none.
    assert incidents(run([At(0, {"jellyfin": 40})])[0])[0].streams is None


def test_a_restarted_governor_goes_on_with_its_open_incident() -> None:
    first = run([At(0, {"jellyfin": 40})])[-1]
    log = IncidentLog.model_validate_json(first.book.log("h", CFG.incidents).model_dump_json())
    steps = run([At(5, {"jellyfin": 30}), At(7, {"jellyfin": 0}), At(17)], book=restored(log))
    assert phases(steps) == [[], [], ["closed"]]
    (incident,) = incidents(steps[-1])
    assert (incident.started_at, incident.ended_at, incident.peak_percent) == (0, 7, 40)


def test_kept_bounded_by_count_and_age() -> None:
    cfg = incidents_cfg(keep=3, keep_days=1)
    moments = []
    for n in range(5):
        moments += [At(100 * n, {"jellyfin": 40}), At(100 * n + 2, {"jellyfin": 0})]
        moments += [At(100 * n + 12, {"jellyfin": 0})]
    steps = run(moments, cfg=cfg)
    assert [i.started_at for i in steps[-1].book.log("h", cfg.incidents).incidents] == [
        400,
        300,
        200,
    ]
    later = run([At(2 * 86400, {"jellyfin": 0})], cfg=cfg, book=steps[-1].book)
    assert later[-1].book.closed == ()
    assert later[-1].changed


def kept_times(count: int, most: int) -> list[float]:
    """The times of the points bounded keeps of `count` points at t = 0, 1, 2, ..."""
    points = [SharePoint(t=t, percent=0) for t in range(count)]
    return [p.t for p in bounded(points, most)]


def test_timelines_keep_every_other_point_past_their_bound() -> None:
    assert kept_times(7, 4) == [0, 2, 4, 6]
    assert kept_times(8, 4) == [1, 3, 5, 7]
    assert kept_times(3, 4) == [0, 1, 2]
    cfg = incidents_cfg(timeline_points=10)
    steps = run([At(2 * n, {"jellyfin": 40}) for n in range(30)], cfg=cfg)
    stall = incidents(steps[-1])[0].stall
    assert len(stall) <= 10 and stall[-1].t == 58


def incidents_cfg(**changes: object) -> WardenConfig:
    return CFG.model_copy(update={"incidents": CFG.incidents.model_copy(update=changes)})


def test_disabled_keeps_nothing() -> None:
    off = incidents_cfg(enabled=False)
    steps = run([At(0, {"jellyfin": 40})], cfg=off)
    assert phases(steps) == [[]] and steps[0].book.open == {}


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        # Open, nothing done yet.
        (
            {"ended_at": None, "actions": [], "time_to_action_seconds": None},
            "since 21:40: jellyfin waited on disk 38 % of the time; tdarr was using the same "
            "disk at 180 MB/s; Warden has not acted yet; it goes on",
        ),
        # The issue's own example.
        (
            {"ended_at": T0 + 66},
            "21:40-21:41: jellyfin waited on disk 38 % of the time; tdarr was using the same "
            "disk at 180 MB/s; tdarr was capped at 21:40:02 (1.6 s); the stall ended 64 s later",
        ),
        # Ended by its readings stopping.
        (
            {"ended_at": T0 + 30.5, "end_reason": "unknown"},
            "21:40: jellyfin waited on disk 38 % of the time; tdarr was using the same disk "
            "at 180 MB/s; tdarr was capped at 21:40:02 (1.6 s); its readings stopped after 30 s",
        ),
        # Nothing to act on: the busiest one is in no tier Warden limits.
        (
            {"actions": [], "time_to_action_seconds": None, "contenders_tier": 1},
            "21:40: jellyfin waited on disk 38 % of the time; tdarr was using the same disk "
            "at 180 MB/s; Warden did not act (tdarr is not in tier 2 or 3); the stall ended "
            "after 5.5 s",
        ),
    ],
)
def test_the_sentence(changes: dict, expected: str) -> None:
    steps = run(
        [
            At(T0 - 10, usage=HOG),
            At(T0 + 0.5, {"jellyfin": 38}),
            At(T0 + 2.1, held={"tdarr": 12}),
            At(T0 + 6, {"jellyfin": 0}, held={"tdarr": 12}),
            At(T0 + 16, held={"tdarr": 12}),
        ]
    )
    (incident,) = incidents(steps[-1])
    tier = changes.pop("contenders_tier", None)
    if tier is not None:
        changes["contenders"] = [incident.contenders[0].model_copy(update={"tier": tier})]
    changed = incident.model_copy(update={"end_reason": "calm", **changes})
    assert sentence(changed, utc) == expected


def test_several_waiters_and_a_trigger_in_the_sentence() -> None:
    steps = run([At(T0, {"jellyfin": 20, "plex": 45})])
    assert incidents(steps[0])[0].sentence.startswith(
        "since 21:40: jellyfin and plex waited on disk up to 45 % of the time; "
    )
    steps = run([At(T0, {"jellyfin": None}, fired=("jellyfin",))])
    assert incidents(steps[0])[0].sentence.startswith(
        "since 21:40: jellyfin stalled on disk (its pressure trigger fired); "
    )


def test_contenders_are_looked_for_again_while_none_is_known() -> None:
    """The sensors' first usage reading has no rates: nobody is known busy from it."""
    steps = run(
        [
            At(-1, usage={}),
            At(0, {"jellyfin": 40}),
            At(1, usage={"tdarr": (180, SDA)}),
        ]
    )
    assert incidents(steps[1])[0].contenders == []
    assert "nothing else was busy on it" in incidents(steps[1])[0].sentence
    (incident,) = incidents(steps[2])
    assert [c.name for c in incident.contenders] == ["tdarr"]
    assert (incident.contenders_from, incident.contenders_to) == (-1, 1)


def test_the_stalled_container_s_disks_known_later_rank_the_contenders_anew() -> None:
    """No reading said which disks jellyfin used when it stalled: everyone's whole I/O
    ranked them; the first that says puts those on the disks it uses in front."""
    steps = run(
        [
            At(-10, usage={"kopia": (300, SDB), "tdarr": (180, SDA)}),
            At(0, {"jellyfin": 40}),
            At(1, usage={"jellyfin": (3, SDA), "kopia": (300, SDB), "tdarr": (180, SDA)}),
        ]
    )
    first = incidents(steps[1])[0]
    assert (first.disks, [c.name for c in first.contenders]) == (None, ["kopia", "tdarr"])
    (incident,) = incidents(steps[2])
    assert incident.disks == [SDA]
    assert [(c.name, c.same_disk) for c in incident.contenders] == [("tdarr", True)]
