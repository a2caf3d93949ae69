"""The shapes the HTTP API answers with: its OpenAPI schema is made from these."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.messages.overrides import OverrideKind
from shared.messages.settings import Percent
from shared.presets import AnyCasePreset, PresetName


class Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- ADRG's /status ----------------------------------------------------------


class StatusContainer(Out):
    # ADRG's keys: the rules behind each control in force, by ADRG's names for them.
    tier: int
    paused_by: list[str]
    cpu_max_by: list[str]
    io_max_by: list[str]
    memory_high_override_bytes: int | None
    # Warden's own.
    memory_high_by: list[str] = []
    protected: bool = False
    state: str | None = Field(None, description="Docker's state, from the sensors")
    paused: bool | None = Field(None, description="as the actuator last applied it")
    reasons: list[str] = []


class StatusProcessGroup(Out):
    paused: bool
    nice: int | None
    reasons: list[str]


class StatusDownloadClient(Out):
    """The download client's limits the governor asks for now (bytes per second; null: the
    user's own), and why."""

    download_bps: int | None
    upload_bps: int | None
    alternative: bool
    reasons: list[str]


class StatusSchedule(Out):
    enabled: bool
    inside: bool
    next_change: str | None = Field(description="ISO 8601 in the host's zone; null: none soon")
    skipped_until: str | None
    summary: str


class StatusCondition(Out):
    holds: bool
    unknown: bool
    held_until: float | None
    detail: str


class Status(Out):
    # ADRG's keys, with ADRG's meaning.
    version: str
    uptime_seconds: float
    dry_run: bool
    media_mode_active: bool
    media_provider: str
    thermal_stage: int
    memory_throttled: bool
    io_throttled: bool
    protected_containers: list[str]
    note_tier0_auto_protected: str = "All Tier 0 containers are implicitly protected."
    containers: dict[str, StatusContainer]
    # Warden's own.
    host: str
    desired_seq: int | None
    applied_mode: Literal["desired", "baseline"] | None
    baseline_reason: str | None
    tier3_manual_pause: bool
    media_forced: bool
    preset: str | None
    streams: int | None
    services: dict[str, str]
    process_groups: dict[str, StatusProcessGroup]
    overrides: list[OverrideOut] = []
    schedules: dict[str, StatusSchedule] = {}
    conditions: dict[str, StatusCondition] = {}
    download_client: StatusDownloadClient | None = None


class OverrideOut(Out):
    id: str
    kind: OverrideKind
    container: str | None
    schedule: str | None = None
    since: float
    until: float
    seconds_left: float


class TriggerAccepted(Out):
    # ADRG's answer.
    queued: str
    # Warden's own.
    topic: str
    note: str | None = None


class Problem(Out):
    error: str


class TriggerProblem(Out):
    error: str
    valid_events: list[str]


class Health(Out):
    status: Literal["ok"] = "ok"
    bus_connected: bool


# --- /api/v1/resources -------------------------------------------------------


class PsiNow(Out):
    some_avg10: float | None
    some_avg60: float | None
    full_avg10: float | None
    full_avg60: float | None


class GpuNow(Out):
    index: int
    vendor: str
    name: str | None
    utilization_percent: float | None
    memory_used_bytes: int | None
    memory_total_bytes: int | None
    temperature_celsius: float | None
    power_watts: float | None


class TemperatureNow(Out):
    name: str
    celsius: float | None
    selected: bool


class ProcessNow(Out):
    pid: int
    name: str = Field(description="the process name (comm); never its command line")
    cpu_percent: float | None = Field(description="of the whole machine; null: first seen")
    rss_bytes: int
    memory_percent: float | None
    group: str | None = Field(description="the process group it belongs to, if any")


class ResourcesNow(Out):
    """Nested for people, and flat numbers (null when unknown) for JSON-path widgets."""

    host: str
    cpu: dict[str, float | int | list[float] | None]
    memory: dict[str, float | int | None]
    gpu: list[GpuNow] | None = Field(description="null: no GPU could be read")
    disk: dict[str, float | int | None]
    top_processes: list[ProcessNow] = Field(
        description="the busiest processes, by CPU then by memory (sensors.top_processes each)"
    )
    temperatures: list[TemperatureNow]
    hottest_celsius: float | None
    pressure: dict[str, PsiNow | None]
    streams: int | None
    # Flat.
    cpu_percent: float | None
    memory_percent: float | None
    memory_used_bytes: int | None
    gpu_percent: float | None
    gpu_temperature_c: float | None
    disk_read_bytes_per_second: float | None
    disk_write_bytes_per_second: float | None
    disk_reads_per_second: float | None
    disk_writes_per_second: float | None
    temperature_c: float | None
    psi_cpu_some_avg10: float | None
    psi_memory_some_avg10: float | None
    psi_memory_full_avg10: float | None
    psi_io_some_avg10: float | None
    psi_io_full_avg10: float | None
    updated_at: float | None


class Threshold(Out):
    scope: str = Field(description='"host", or "process_group:<name>"')
    metric: str
    value: float | None
    threshold: float
    crossed: bool
    effect: str = Field(description="what crossing it does, in words (for people)")
    acts: bool = Field(
        default=True, description="crossing it makes Warden act; false: it only warns"
    )


class Thresholds(Out):
    thresholds: list[Threshold]
    crossed: list[Threshold]


# --- settings ----------------------------------------------------------------


class ResourceSettingsIn(BaseModel):
    """Each field left out keeps its value; null returns it to the config's."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool | None = None
    preset: AnyCasePreset | None = Field(None, description="a preset name, in any case")
    cpu_threshold_percent: Percent | None = None
    memory_threshold_percent: Percent | None = None
    gpu_threshold_percent: Percent | None = None
    nice: int | None = Field(None, ge=-20, le=19)


class ResourceSettingsOut(Out):
    enabled: bool
    preset: PresetName
    cpu_threshold_percent: float | None
    memory_threshold_percent: float | None
    gpu_threshold_percent: float | None
    nice: int | None
    # What the process groups get now (set values, else the preset's).
    effective: dict[str, float | int]
    updated_at: float | None


# --- containers, decisions, history --------------------------------------------


class ContainerRow(Out):
    name: str
    kind: Literal["container", "process_group"]
    tier: int | None
    state: str
    paused: bool
    limits: list[str]
    reasons: list[str]
    protected: bool = False


class Decision(Out):
    ts: float
    container: str
    action: str
    summary: str
    reasons: list[str]


class HistorySeries(Out):
    metric: str
    bucket_seconds: float = Field(description="0: raw readings (min = mean = max)")
    points: list[tuple[float, float, float, float]] = Field(
        description="[bucket start, min, mean, max]"
    )


class HistoryMetrics(Out):
    metrics: list[str]
    raw_keep_seconds: float
    tiers: list[tuple[float, float]] = Field(description="[bucket_seconds, keep_seconds]")


class OverrideIn(BaseModel):
    """pause_tier3: pause every tier-3 container; unthrottle: let `container` run at its
    tier baseline (thermal stages still apply); skip_schedule: `schedule` is outside its
    windows meanwhile. Each ends by itself."""

    model_config = ConfigDict(extra="forbid")

    kind: OverrideKind
    container: str | None = Field(None, min_length=1, max_length=255)
    schedule: str | None = Field(None, min_length=1, max_length=40)
    minutes: float = Field(gt=0, le=24 * 60)


# --- the fleet ------------------------------------------------------------------


class HostSummary(Out):
    """One host as the broker shows it: what the fleet strip and /api/v1/hosts say."""

    own: bool = Field(description="this web service's own host_id (ADRG's /status, /trigger)")
    online: bool
    online_from: Literal["bridge", "services"] = Field(
        description="bridge: the central broker's word on the host's bridge (a gone host's "
        "services never get to say so); services: its services' own availability"
    )
    bridge: Literal["up", "down"] | None = Field(
        description="null: not seen bridged; for the own host with `bridge:` on, its link to "
        "the central broker (then `online` is by its services)"
    )
    services: dict[str, str]
    media_mode_active: bool
    containers: int = Field(description="managed containers, as last applied")
    paused: int
    throttled: int = Field(description="with a cpu, io or memory limit beyond the baseline")
    applied_at: float | None = Field(description="when the actuator last applied, its clock")
    applied_mode: Literal["desired", "baseline"] | None
    pressure_some_avg10: dict[str, float | None]
    pressure_headline: str | None = Field(description='the highest "some" avg10, e.g. "io 12.5%"')
    updated_at: float | None = Field(description="the newest message heard from the host")


class Hosts(Out):
    default: str = Field(description="this web service's own host_id")
    hosts: dict[str, HostSummary]


class IncidentSummary(Out):
    """One incident in a line: the full record is at /api/v1/incidents/<id>."""

    id: str
    kind: Literal["stall", "buffering"]
    resource: Literal["cpu", "io", "memory"] | None
    started_at: float
    ended_at: float | None = Field(description="null while it goes on")
    waiters: list[str] = Field(description="the protected containers that stalled")
    peak_percent: float | None
    top_contender: str | None
    first_action: str | None = Field(description="what Warden did first, on whom")
    time_to_action_seconds: float | None
    cleared_after_action: bool | None
    sentence: str
