"""Facts the sensors publish: pressure, the container inventory and media streams."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from shared.messages.base import BlockDevice, Message, Strict

NonNegative = Annotated[float, Field(ge=0)]


class PressureLine(Strict):
    avg10: Annotated[float, Field(ge=0, le=100)]
    avg60: Annotated[float, Field(ge=0, le=100)]
    avg300: Annotated[float, Field(ge=0, le=100)]
    total: Annotated[int, Field(ge=0)]


class ResourcePressure(Strict):
    some: PressureLine
    # The kernel reports no "full" line for cpu before 5.13 (and zeros at root).
    full: PressureLine | None = None


PsiResource = Literal["cpu", "memory", "io"]


class StallShare(Strict):
    """A cgroup's some-stall as a share of the time between two readings (from `total`), or,
    where those were more than two windows apart, the kernel's avg10 (seconds: 10)."""

    resource: PsiResource
    some_percent: Annotated[float, Field(ge=0, le=100)]
    # The time the share is over: between the two readings (at least one PSI window), or 10.
    seconds: Annotated[float, Field(gt=0)]


class ContainerPressure(Strict):
    """PSI of one managed container's cgroup; None: unknown (unreadable), not zero."""

    id: str
    name: str
    # The cgroup directory the pressure files were read from.
    source: str
    cpu: ResourcePressure | None = None
    memory: ResourcePressure | None = None
    io: ResourcePressure | None = None
    # Stall over the last window, per resource; a resource not listed is unknown (the
    # first reading, or unreadable), never zero.
    stall: list[StallShare] = []


class PsiTriggerFired(Strict):
    """A kernel PSI trigger that fired: stall_us of `line` stall within window_us."""

    # "host", or the id of the container whose cgroup it watches.
    scope: str
    resource: PsiResource
    line: Literal["some", "full"]
    stall_us: Annotated[int, Field(gt=0)]
    window_us: Annotated[int, Field(gt=0)]


class PressureFact(Message):
    """System-wide PSI. A resource the host cannot report is None: unknown, not zero."""

    source: str = "/proc/pressure"
    cpu: ResourcePressure | None = None
    memory: ResourcePressure | None = None
    io: ResourcePressure | None = None
    # How changes reach the bus: "triggers" (the kernel wakes the sensors) or "polling".
    mode: Literal["triggers", "polling"] = "polling"
    # The triggers whose firing caused this reading; empty for heartbeats and follow-ups.
    fired: list[PsiTriggerFired] = []
    # Managed (tiered) running containers.
    containers: list[ContainerPressure] = []


ContainerState = Literal["created", "running", "paused", "restarting", "removing", "exited", "dead"]


class ContainerFact(Strict):
    id: str
    name: str
    state: ContainerState
    # None: not in any tier of the config, so Warden leaves it alone.
    tier: Annotated[int, Field(ge=0, le=3)] | None
    protected: bool = False
    # None: unknown (not running, or its cgroup could not be read).
    rss_bytes: Annotated[int, Field(ge=0)] | None = None


class ContainerInventory(Message):
    source: str = "docker"
    # CPUs of the host, so throttles given as "% of the machine" can be computed.
    cpu_count: Annotated[int, Field(ge=1)]
    containers: list[ContainerFact]


StreamProvider = Literal["jellyfin", "plex", "emby", "tautulli"]
StreamState = Literal["playing", "paused", "buffering"]
# What the server does with one stream (video or audio), as its own dashboard says it:
# sent as it is stored, copied into a new container (a remux: direct, not a transcode),
# or re-encoded.
StreamDecision = Literal["direct play", "direct stream", "transcode"]
MediaType = Literal["video", "audio", "photo", "live tv"]


class StreamSession(Strict):
    """One playback session on a media server, as its API or a webhook describes it.

    Every None is unknown (the server did not say), never zero or false.
    """

    id: str
    user: str = ""
    title: str = ""
    state: StreamState
    # The server re-encodes the video or the audio; a remux (direct stream) is not one.
    transcode: bool
    # Per stream; None: the session has no such stream, or the server did not say.
    video_decision: StreamDecision | None = None
    audio_decision: StreamDecision | None = None
    # What the decisions rest on, in words ("TranscodingInfo: video and audio direct, a
    # remux, though PlayMethod says Transcode"), for logs and dashboards.
    decision_reason: str = ""
    # Media mode counts video and live TV; audio only with media_mode.count_audio.
    media_type: MediaType | None = None
    # Kilobits (1000 bits) per second the client receives: Plex's and Tautulli's session
    # bandwidth, Jellyfin's and Emby's transcode or source bitrate.
    bitrate_kbps: Annotated[int, Field(ge=0)] | None = None
    # True: the server says its video transcode decodes or encodes on a GPU; False: no
    # video transcode, or the server says it runs in software; None: not said (Jellyfin
    # names the acceleration it was asked for, not the one it got).
    hw_transcode: bool | None = None
    # True: the server is set to put this video transcode on a GPU (Plex's
    # transcodeHwRequested, Jellyfin's HardwareAccelerationType), whether or not it did;
    # False: no video transcode, or set to software; None: not said.
    hw_requested: bool | None = None
    # None: the server did not say where the client is.
    local: bool | None = None
    # The client's address as the server reports it ("203.0.113.7", "[2001:db8::1]:443");
    # None: not said. Stream-aware bandwidth tells local from remote by it.
    address: Annotated[str, Field(max_length=100)] | None = None
    # The video's lines (1080 for 1080p) as the client receives it; None: not said, or no
    # video. Stream-aware bandwidth's default bitrate goes by it.
    video_height: Annotated[int, Field(gt=0, le=10_000)] | None = None
    client: str = ""


class StreamsFact(Message):
    """Media streams. count is what media mode counts; None: unknown (see error), never 0."""

    # "jellyfin api", "plex webhook", ...: what the reading came from.
    source: str
    provider: StreamProvider
    count: Annotated[int, Field(ge=0)] | None
    # Every session the server reported, counted or not (paused ones too).
    sessions: list[StreamSession] = []
    error: str | None = None


# --- host processes ---------------------------------------------------------


class ProcessSeen(Strict):
    pid: Annotated[int, Field(gt=0)]
    # The process name (comm), as /proc says it.
    name: str


class ProcessCondition(Strict):
    """One condition's process match: the processes that match it now (at most a few)."""

    condition: str
    running: bool
    processes: Annotated[list[ProcessSeen], Field(max_length=20)] = []


class ProcessesFact(Message):
    """Host processes the `conditions` watch (Unraid's mover, a backup): one entry each."""

    source: str = "/proc"
    conditions: list[ProcessCondition] = []
    # Why /proc could not be read; then every condition is unknown.
    error: str | None = None


# --- thermal -----------------------------------------------------------------


class TemperatureReading(Strict):
    # "zone/<type>" for thermal zones, "<chip>/<label>" for hwmon sensors.
    name: str
    # The sysfs file the value came from.
    source: str
    # None: unreadable or implausible (see error), never 0.
    celsius: float | None
    selected: bool
    error: str | None = None


class ThermalFact(Message):
    source: str = "/sys/class/thermal+hwmon"
    # False: no selected sensor gave a value; reason says why. Never a made-up 0 °C.
    available: bool
    reason: str | None = None
    hottest: str | None = None
    max_celsius: float | None = None
    sensors: list[TemperatureReading] = []


# --- GPU ---------------------------------------------------------------------

GpuVendor = Literal["nvidia", "amd", "intel"]


class GpuProcess(Strict):
    pid: Annotated[int, Field(ge=0)]
    name: str | None = None
    used_memory_bytes: Annotated[int, Field(ge=0)] | None = None
    # Share of the GPU's compute (SM) time, where the driver reports it.
    utilization_percent: Annotated[float, Field(ge=0, le=100)] | None = None
    # The Docker container it runs in, by name (from its cgroup); None: none, or unknown.
    container: str | None = None


class GpuDevice(Strict):
    """One GPU. Every None is unknown (the driver did not say), never zero."""

    vendor: GpuVendor
    index: Annotated[int, Field(ge=0)]
    # "nvml", "nvidia-smi", or the sysfs card directory.
    source: str
    name: str | None = None
    utilization_percent: Annotated[float, Field(ge=0, le=100)] | None = None
    memory_used_bytes: Annotated[int, Field(ge=0)] | None = None
    memory_total_bytes: Annotated[int, Field(ge=0)] | None = None
    temperature_celsius: float | None = None
    power_watts: Annotated[float, Field(ge=0)] | None = None
    # None: the driver gives no per-process use.
    processes: list[GpuProcess] | None = None
    errors: list[str] = []


class GpuFact(Message):
    source: str = "nvml+nvidia-smi+/sys/class/drm"
    # False: no GPU could be read; reasons say why ("none available" is not "idle").
    available: bool
    gpus: list[GpuDevice] = []
    # Why a vendor's GPUs are unknown or a reader was skipped.
    reasons: list[str] = []


# --- CPU, memory and disk I/O ------------------------------------------------

Ratio = Annotated[float, Field(ge=0, le=100)]


class HostUsage(Strict):
    """The whole machine. Rates need two readings: None on the first, and when unreadable."""

    cpu_count: Annotated[int, Field(ge=1)]
    # Percent of the whole machine (all CPUs), as tier2_cpu_max_percent is.
    cpu_percent: Ratio | None = None
    # Each CPU's own busy share, in /proc/stat's order; None on the first reading.
    cpu_per_core_percent: list[Ratio] | None = None
    memory_total_bytes: Annotated[int, Field(ge=0)] | None = None
    memory_available_bytes: Annotated[int, Field(ge=0)] | None = None
    memory_used_percent: Ratio | None = None
    # MemTotal - MemAvailable: what cannot be had back without swapping or killing.
    memory_used_bytes: Annotated[int, Field(ge=0)] | None = None
    # Summed over physical disks (partitions and virtual devices would count twice).
    disk_read_bytes_per_second: NonNegative | None = None
    disk_write_bytes_per_second: NonNegative | None = None
    # Read and write operations completed per second (/proc/diskstats fields 4 and 8).
    disk_reads_per_second: NonNegative | None = None
    disk_writes_per_second: NonNegative | None = None
    # The counters themselves, since boot (Optimizarr's disk_io shows these).
    disk_read_bytes: Annotated[int, Field(ge=0)] | None = None
    disk_write_bytes: Annotated[int, Field(ge=0)] | None = None
    disk_reads: Annotated[int, Field(ge=0)] | None = None
    disk_writes: Annotated[int, Field(ge=0)] | None = None


class ProcessUsage(Strict):
    """One process among the busiest. Its name (comm) only: a command line may hold a secret."""

    pid: Annotated[int, Field(ge=1)]
    name: str
    # Percent of the whole machine; None on the first reading of the process.
    cpu_percent: Ratio | None = None
    rss_bytes: Annotated[int, Field(ge=0)]
    memory_percent: Ratio | None = None
    # The configured process group it belongs to, if any.
    group: str | None = None


class ProcessGroupUsage(Strict):
    name: str
    pids: list[int]
    cpu_percent: Ratio | None = None
    rss_bytes: Annotated[int, Field(ge=0)] | None = None
    # From /proc/<pid>/io; None where it cannot be read (another user's process without root).
    read_bytes_per_second: NonNegative | None = None
    write_bytes_per_second: NonNegative | None = None


class ContainerUsage(Strict):
    id: str
    name: str
    # The cgroup directory read.
    source: str
    cpu_percent: Ratio | None = None
    rss_bytes: Annotated[int, Field(ge=0)] | None = None
    # Bytes read and written per second (io.stat, or v1 blkio.throttle.io_service_bytes,
    # which counts direct and synchronous I/O only).
    io_bytes_per_second: NonNegative | None = None
    # The same per disk, for the disks it read or wrote since the last reading (whole
    # disks, as the counters name them); None when unknown.
    io_bytes_per_second_by_disk: (
        Annotated[dict[BlockDevice, NonNegative], Field(max_length=256)] | None
    ) = None
    # Charged memory (memory.current, v1 memory.usage_in_bytes) and how fast it grows;
    # negative while it shrinks.
    memory_bytes: Annotated[int, Field(ge=0)] | None = None
    memory_growth_bytes_per_second: float | None = None


class ResourcesFact(Message):
    source: str = "/proc+cgroups"
    machine: HostUsage
    process_groups: list[ProcessGroupUsage] = []
    containers: list[ContainerUsage] = []
    # The busiest processes: the top `sensors.top_processes` by CPU, then by memory (the
    # union, busiest CPU first); bounded, so a host with thousands stays one small message.
    top_processes: Annotated[list[ProcessUsage], Field(max_length=64)] = []
    # What could not be read, once per kind, so an unknown says why.
    errors: list[str] = []
