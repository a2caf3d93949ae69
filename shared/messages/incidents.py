"""Incidents: each stall of protected work, told as a person reads it (retained, by the
governor). An incident opens when a protected container stalls past the protect rule's
share (or a media server reports a stream buffering) and closes when that has been gone a
while. It says who waited on what and how much, which streams played, who else was busy
in the window before, what Warden did and when, and whether the stall ended after it."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from shared.messages.base import BlockDevice, Message, Strict

IncidentKind = Literal["stall", "buffering"]
IncidentResource = Literal["cpu", "io", "memory"]
# What an action set, by control (as the desired state names them).
ActionControl = Literal["paused", "cpu_max", "io_max", "memory_high", "cpu_idle"]
# calm: the stall was gone close_after_seconds; unknown: the readings that could tell
# stopped (the pressure fact went stale, or the protected container's stall unreadable).
EndReason = Literal["calm", "unknown"]
Rate = Annotated[float, Field(ge=0)]


class Waiter(Strict):
    """A protected container that stalled during the incident."""

    name: str
    # The highest stall share it had (% of the time); None: only its PSI trigger said so.
    peak_percent: Annotated[float, Field(ge=0, le=100)] | None = None


class PlayingStream(Strict):
    """A media session playing (or buffering) when the incident opened."""

    title: str = ""
    user: str = ""
    provider: str = ""
    state: str = ""
    transcode: bool = False
    hw_transcode: bool | None = None
    bitrate_kbps: Annotated[int, Field(ge=0)] | None = None
    local: bool | None = None


class Contender(Strict):
    """Another container or process group busy in the window before the start, by its
    mean use there; None: not known."""

    name: str
    kind: Literal["container", "process_group"]
    tier: Annotated[int, Field(ge=0, le=3)] | None = None
    # What it was ranked by: its use of the resource the incident is about (io: bytes/s
    # on the disks the stalled containers used, where known; cpu: % of the machine;
    # memory: bytes/s of growth).
    score: Rate
    cpu_percent: Annotated[float, Field(ge=0, le=100)] | None = None
    io_bytes_per_second: Rate | None = None
    io_bytes_per_second_by_disk: Annotated[dict[BlockDevice, Rate], Field(max_length=64)] | None = (
        None
    )
    # True: it used a disk the stalled containers used; None: not known (a process group's
    # I/O has no disk, or the disks were not read).
    same_disk: bool | None = None
    memory_growth_bytes_per_second: float | None = None
    gpu_percent: Annotated[float, Field(ge=0)] | None = None
    gpu_memory_bytes: Annotated[int, Field(ge=0)] | None = None


class IncidentAction(Strict):
    """A limit or pause the governor added (or tightened) while the incident was open, on
    the resource it is about: io.max for disk, cpu.max and cpu.idle for CPU, memory.high
    and cpu.max for memory, a pause for any (and anything for a buffering stream)."""

    at: float
    target: str
    kind: Literal["container", "process_group"]
    # "paused", "io.max 12 MB/s on 8:0", "cpu.max 20 %", "memory.high 1.5 GiB", "cpu.idle"
    what: Annotated[str, Field(max_length=200)]
    controls: Annotated[list[ActionControl], Field(max_length=5)] = []
    # The rules whose reasons it carries, in the order the governor lists them.
    rules: Annotated[list[str], Field(max_length=16)] = []


class SharePoint(Strict):
    t: float
    # The highest stall share among the protected containers (%); for a buffering
    # incident, the host's some avg10 of its resource.
    percent: Annotated[float, Field(ge=0, le=100)]


class UsePoint(Strict):
    t: float
    # Contender name -> its use of the incident's resource then (the unit of its score).
    use: Annotated[dict[str, Rate], Field(max_length=20)]


class Incident(Strict):
    # Unique per host: "<kind>-<resource>-<start in ms>".
    id: Annotated[str, Field(min_length=1, max_length=80)]
    kind: IncidentKind
    # What was waited on; a buffering incident: the host's busiest resource then (None:
    # its pressure was not known).
    resource: IncidentResource | None
    started_at: float
    # None: still open.
    ended_at: float | None = None
    end_reason: EndReason | None = None
    waiters: Annotated[list[Waiter], Field(max_length=64)] = []
    # The buffering sessions of a buffering incident.
    buffering: Annotated[list[PlayingStream], Field(max_length=32)] = []
    peak_percent: Annotated[float, Field(ge=0, le=100)] | None = None
    # io: the disks the stalled containers used; None: not known.
    disks: Annotated[list[BlockDevice], Field(max_length=64)] | None = None
    # None: no media server's word on its sessions then (unknown, not none).
    streams: Annotated[list[PlayingStream], Field(max_length=32)] | None = None
    contenders: Annotated[list[Contender], Field(max_length=20)] = []
    # The span the contenders' use was averaged over (None: no usage reading yet).
    contenders_from: float | None = None
    contenders_to: float | None = None
    actions: Annotated[list[IncidentAction], Field(max_length=20)] = []
    # The first action's time less the start: how long the stall waited for Warden.
    time_to_action_seconds: Annotated[float, Field(ge=0)] | None = None
    # The stall share of the last reading before the first action, and of the first
    # reading a PSI window after it (or the calm one that closed the incident).
    percent_before_action: Annotated[float, Field(ge=0, le=100)] | None = None
    percent_after_action: Annotated[float, Field(ge=0, le=100)] | None = None
    # True: the stall ended after Warden acted; False: it did not end (readings stopped);
    # None: no action, or still open.
    cleared_after_action: bool | None = None
    stall: Annotated[list[SharePoint], Field(max_length=600)] = []
    use: Annotated[list[UsePoint], Field(max_length=600)] = []
    # The incident in one plain sentence, in the governor host's local time.
    sentence: Annotated[str, Field(max_length=1000)] = ""

    @property
    def first_action(self) -> IncidentAction | None:
        return self.actions[0] if self.actions else None


class IncidentLog(Message):
    """The latest incidents, newest first; bounded by `incidents.keep` and `keep_days`."""

    incidents: Annotated[list[Incident], Field(max_length=100)] = []
