"""Incidents as a governor publishes them, made by its own book from a sequence of readings
(a disk stall Warden capped, then a CPU stall still going on): what the web page, Home
Assistant and the terminal command read, without running the stack."""

from __future__ import annotations

from collections.abc import Sequence

from services.governor.incidents.actions import held_of
from services.governor.incidents.book import Book, Seen, step
from shared.config.model import WardenConfig
from shared.messages import (
    ContainerIntent,
    ContainerPressure,
    ContainerUsage,
    HostUsage,
    IoMax,
    IoRate,
    PressureFact,
    Reason,
    ResourcesFact,
    StallShare,
    StreamSession,
    StreamsFact,
)
from shared.messages.incidents import IncidentLog
from tests.support.views import view

MB = 1024**2
DISK = "8:0"
TIERS = {1: ["jellyfin"], 2: ["sonarr"], 3: ["tdarr", "kopia"]}
CFG = WardenConfig.model_validate({"tiers": {n: {"containers": c} for n, c in TIERS.items()}})


def _stall(resource: str, share: float) -> PressureFact:
    stall = [StallShare(resource=resource, some_percent=share, seconds=2)]  # type: ignore[arg-type]
    return PressureFact(
        host="h", containers=[ContainerPressure(id="j", name="jellyfin", source="", stall=stall)]
    )


def _usage(tdarr: float, sonarr: float, kopia_cpu: float = 5) -> ResourcesFact:
    def one(name: str, mbs: float, cpu: float) -> ContainerUsage:
        return ContainerUsage(
            id=name,
            name=name,
            source="",
            cpu_percent=cpu,
            io_bytes_per_second=mbs * MB,
            io_bytes_per_second_by_disk={DISK: mbs * MB},
        )

    return ResourcesFact(
        host="h",
        machine=HostUsage(cpu_count=4),
        containers=[
            one("jellyfin", 4, 20),
            one("tdarr", tdarr, 30),
            one("sonarr", sonarr, 3),
            one("kopia", 0, kopia_cpu),
        ],
    )


def _capped(mbs: float) -> ContainerIntent:
    rate = IoRate(read_bps=int(mbs * MB), write_bps=int(mbs * MB))
    reason = Reason(rule="protect", metric="io.some_stall_percent", threshold=10)
    return ContainerIntent(tier=3, io_max=IoMax(disks={DISK: rate}), reasons=[reason])


STREAMS = StreamsFact(
    host="h",
    source="jellyfin api",
    provider="jellyfin",
    count=1,
    sessions=[
        StreamSession(
            id="s", user="alice", title="Dune", state="playing", transcode=True, hw_transcode=True
        )
    ],
)


def made(host: str, t0: float) -> IncidentLog:
    """The book over: a disk stall at t0 (tdarr writing 180 MB/s on jellyfin's disk), capped
    1.6 s later and tightened, calm 8 s in; then a CPU stall 60 s later, still going on."""
    # (t, pressure reading or None, usage or None, tdarr's cap in MB/s or None)
    moments: Sequence[tuple[float, PressureFact | None, ResourcesFact | None, float | None]] = [
        (-25, None, _usage(170, 15), None),
        (-15, None, _usage(185, 25), None),
        (-5, None, _usage(180, 20), None),
        (0, _stall("io", 38), None, None),
        (0.4, None, _usage(182, 20), None),
        (1.6, None, None, 12),
        (2, _stall("io", 31), None, 12),
        (4, _stall("io", 14), None, 12),
        (4.4, None, _usage(12, 18), 12),
        (5.6, _stall("io", 11), None, 3),
        (8, _stall("io", 2), None, 3),
        (9.4, None, _usage(3, 18), 3),
        (10, _stall("io", 0), None, 3),
        (18, _stall("io", 0), None, 3),
        (40, None, _usage(3, 5, kopia_cpu=70), None),
        (50, None, _usage(3, 5, kopia_cpu=72), None),
        (60, _stall("cpu", 22), None, None),
        (62, _stall("cpu", 27), None, None),
    ]
    book = Book()
    pressure = resources = None
    seen_at = resources_at = None
    for t, reading, use, cap in moments:
        if reading is not None:
            pressure, seen_at = reading, t0 + t
        if use is not None:
            resources, resources_at = use, t0 + t
        v = view(
            CFG,
            now=t0 + t,
            pressure=pressure,
            pressure_seen_at=seen_at,
            resources=resources,
            stream_report=STREAMS,
        )
        held = held_of({"tdarr": _capped(cap)} if cap is not None else {}, {})
        book = step(book, Seen(v, resources_at, held)).book
    return book.log(host, CFG.incidents)
