"""Optimizarr's four routes at Optimizarr's own paths, with its field names and meaning: the
compatibility surface for its dashboard, scripts and widgets (Warden's own routes are the
versioned ones under /api/v1).

    GET  /api/resources/current      the resource snapshot (ResourceMonitor.get_all_resources)
    GET  /api/resources/thresholds   threshold violations now (check_thresholds)
    GET  /api/settings/resources     the resource settings
    POST /api/settings/resources     change them (admin)

The same auth rules hold as for /api/v1: reading as any read route, changing settings
with an admin token. Settings go where /api/v1/settings/resources puts them (the
governor, retained, and the web service's database), so both routes show one state.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import FastAPI
from fastapi.params import Depends
from pydantic import BaseModel, ConfigDict, Field

from services.web.backend import Backend
from services.web.models import (
    Out,
    Problem,
    ResourceSettingsIn,
    ResourceSettingsOut,
    ResourcesNow,
)
from services.web.readings_now import resources_now
from services.web.route_parts import ACT_REFUSALS, REFUSALS
from shared.messages.settings import Percent
from shared.presets import AnyCasePreset, display_name

MB = 1024 * 1024


# --- settings ------------------------------------------------------------------


class OptimizarrSettings(Out):
    """Optimizarr's resource settings, as its Settings tab shows them: the numbers in force
    (a threshold not set is its preset's)."""

    cpu_threshold: float = Field(description="pause when CPU use goes above this percent")
    memory_threshold: float = Field(description="pause when memory use goes above this percent")
    gpu_threshold: float = Field(description="pause when GPU use goes above this percent")
    nice_level: int = Field(description="the nice level of the managed processes")
    enable_throttling: bool = Field(description="false: nothing is paused or re-niced")
    # Warden's own.
    preset: str = Field(description="the preset the numbers not set come from")


class OptimizarrSettingsIn(BaseModel):
    """Optimizarr's settings body; each field left out keeps its value. `preset` (any case,
    as "Conservative") is Warden's own addition."""

    model_config = ConfigDict(extra="forbid")

    cpu_threshold: Percent | None = None
    memory_threshold: Percent | None = None
    gpu_threshold: Percent | None = None
    # Optimizarr's input takes 0-19: a negative nice needs privileges it never asks for.
    nice_level: Annotated[int, Field(ge=0, le=19)] | None = None
    enable_throttling: bool | None = None
    preset: AnyCasePreset | None = None


# Optimizarr's name -> Warden's.
SETTING_NAMES = {
    "cpu_threshold": "cpu_threshold_percent",
    "memory_threshold": "memory_threshold_percent",
    "gpu_threshold": "gpu_threshold_percent",
    "nice_level": "nice",
    "enable_throttling": "enabled",
    "preset": "preset",
}


def to_warden(change: OptimizarrSettingsIn) -> ResourceSettingsIn:
    """The same change as /api/v1 takes it: only the fields the body named."""
    given = change.model_dump(include=change.model_fields_set)
    return ResourceSettingsIn.model_validate({SETTING_NAMES[k]: v for k, v in given.items()})


def from_warden(settings: ResourceSettingsOut) -> OptimizarrSettings:
    effective = settings.effective
    return OptimizarrSettings(
        cpu_threshold=float(effective["cpu_threshold_percent"]),
        memory_threshold=float(effective["memory_threshold_percent"]),
        gpu_threshold=float(effective["gpu_threshold_percent"]),
        nice_level=int(effective["nice"]),
        enable_throttling=settings.enabled,
        preset=display_name(settings.preset),
    )


# --- the snapshot ------------------------------------------------------------------


class CpuSnapshot(Out):
    percent: float | None
    per_core: list[float] | None
    count: int | None
    temperature_c: float | None
    temp_available: bool


class MemorySnapshot(Out):
    total_mb: float | None
    available_mb: float | None
    used_mb: float | None
    percent: float | None


class DiskIoSnapshot(Out):
    # Optimizarr's: counters since boot.
    read_bytes: int | None
    write_bytes: int | None
    read_count: int | None
    write_count: int | None
    # Warden's own: the same per second, over the sensors' last two readings.
    read_bytes_per_second: float | None
    write_bytes_per_second: float | None
    read_count_per_second: float | None
    write_count_per_second: float | None


class GpuSnapshot(Out):
    index: int
    name: str | None
    utilization_percent: float | None
    memory_used_mb: float | None
    memory_total_mb: float | None
    temperature_c: float | None
    power_usage_w: float | None


class ProcessSnapshot(Out):
    pid: int
    name: str
    cpu_percent: float | None
    memory_mb: float
    memory_percent: float | None
    group: str | None


class OptimizarrSnapshot(Out):
    timestamp: str | None = Field(description="ISO 8601, UTC, of the newest reading")
    cpu: CpuSnapshot
    memory: MemorySnapshot
    disk_io: DiskIoSnapshot
    gpu: list[GpuSnapshot] | None = Field(description="null: no GPU could be read")
    # Optimizarr tracks its own job's process; Warden tells the host's busiest.
    processes: list[ProcessSnapshot]
    host: str


def _mb(value: float | int | None) -> float | None:
    return None if value is None else round(value / MB, 1)


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _count(value: object) -> int | None:
    return value if isinstance(value, int) else None


def snapshot(now: ResourcesNow) -> OptimizarrSnapshot:
    cpu, memory, disk = now.cpu, now.memory, now.disk
    per_core = cpu.get("per_core_percent")
    return OptimizarrSnapshot(
        timestamp=datetime.fromtimestamp(now.updated_at, UTC).isoformat()
        if now.updated_at is not None
        else None,
        cpu=CpuSnapshot(
            percent=now.cpu_percent,
            per_core=per_core if isinstance(per_core, list) else None,
            count=_count(cpu.get("count")),
            temperature_c=now.temperature_c,
            temp_available=now.temperature_c is not None,
        ),
        memory=MemorySnapshot(
            total_mb=_mb(_number(memory.get("total_bytes"))),
            available_mb=_mb(_number(memory.get("available_bytes"))),
            used_mb=_mb(now.memory_used_bytes),
            percent=now.memory_percent,
        ),
        disk_io=DiskIoSnapshot(
            read_bytes=_count(disk.get("read_bytes")),
            write_bytes=_count(disk.get("write_bytes")),
            read_count=_count(disk.get("reads")),
            write_count=_count(disk.get("writes")),
            read_bytes_per_second=now.disk_read_bytes_per_second,
            write_bytes_per_second=now.disk_write_bytes_per_second,
            read_count_per_second=now.disk_reads_per_second,
            write_count_per_second=now.disk_writes_per_second,
        ),
        gpu=[
            GpuSnapshot(
                index=g.index,
                name=g.name,
                utilization_percent=g.utilization_percent,
                memory_used_mb=_mb(g.memory_used_bytes),
                memory_total_mb=_mb(g.memory_total_bytes),
                temperature_c=g.temperature_celsius,
                power_usage_w=g.power_watts,
            )
            for g in now.gpu
        ]
        if now.gpu is not None
        else None,
        processes=[
            ProcessSnapshot(
                pid=p.pid,
                name=p.name,
                cpu_percent=p.cpu_percent,
                memory_mb=round(p.rss_bytes / MB, 1),
                memory_percent=p.memory_percent,
                group=p.group,
            )
            for p in now.top_processes
        ],
        host=now.host,
    )


# --- thresholds ----------------------------------------------------------------------


class OptimizarrThresholds(Out):
    """Optimizarr's check: the host's use now against the thresholds in force."""

    should_pause: bool = Field(description="throttling on and any threshold exceeded")
    cpu_usage: float | None
    memory_usage: float | None
    gpu_usage: float | None
    cpu_exceeded: bool
    memory_exceeded: bool
    gpu_exceeded: bool
    reasons: list[str]
    # Warden's own.
    settings: OptimizarrSettings
    paused_groups: list[str] = Field(
        description="the process groups Warden holds paused now (its thresholds leave out "
        "each group's own use, so these may differ from should_pause)"
    )


def thresholds(
    now: ResourcesNow, settings: OptimizarrSettings, paused: list[str]
) -> OptimizarrThresholds:
    readings = {
        "cpu": (now.cpu_percent, settings.cpu_threshold, "CPU usage"),
        "memory": (now.memory_percent, settings.memory_threshold, "Memory"),
        "gpu": (now.gpu_percent, settings.gpu_threshold, "GPU usage"),
    }
    exceeded = {k: v is not None and v > limit for k, (v, limit, _) in readings.items()}
    reasons = [
        f"{label} {value:.1f}% > {limit:g}%"
        for key, (value, limit, label) in readings.items()
        if exceeded[key] and value is not None
    ]
    return OptimizarrThresholds(
        should_pause=settings.enable_throttling and any(exceeded.values()),
        cpu_usage=now.cpu_percent,
        memory_usage=now.memory_percent,
        gpu_usage=now.gpu_percent,
        cpu_exceeded=exceeded["cpu"],
        memory_exceeded=exceeded["memory"],
        gpu_exceeded=exceeded["gpu"],
        reasons=reasons,
        settings=settings,
        paused_groups=paused,
    )


# --- the routes ----------------------------------------------------------------------


def add_routes(
    app: FastAPI,
    backend: Backend,
    read: Depends,
    admin: Depends,
) -> None:
    tags: list[str | Any] = ["optimizarr"]

    def paused_groups() -> list[str]:
        groups = backend.view.desired.process_groups if backend.view.desired else {}
        return sorted(name for name, g in groups.items() if g.paused)

    @app.get(
        "/api/resources/current",
        response_model=OptimizarrSnapshot,
        dependencies=[read],
        responses=REFUSALS,
        tags=tags,
    )
    def current() -> OptimizarrSnapshot:
        """Optimizarr's resource snapshot: CPU, memory, disk I/O, GPU (null: none) and the
        busiest processes."""
        return snapshot(resources_now(backend.view))

    @app.get(
        "/api/resources/thresholds",
        response_model=OptimizarrThresholds,
        dependencies=[read],
        responses=REFUSALS,
        tags=tags,
    )
    def crossed() -> OptimizarrThresholds:
        """Optimizarr's threshold check: the host's CPU, memory and GPU use against the
        thresholds in force."""
        settings = from_warden(backend.settings_out())
        return thresholds(resources_now(backend.view), settings, paused_groups())

    @app.get(
        "/api/settings/resources",
        response_model=OptimizarrSettings,
        dependencies=[read],
        responses=REFUSALS,
        tags=tags,
    )
    def get_settings() -> OptimizarrSettings:
        return from_warden(backend.settings_out())

    change_refusals = {**ACT_REFUSALS, 422: {"model": Problem, "description": "invalid settings"}}

    @app.post(
        "/api/settings/resources",
        response_model=OptimizarrSettings,
        dependencies=[admin],
        responses=change_refusals,
        tags=tags,
    )
    def post_settings(change: OptimizarrSettingsIn) -> OptimizarrSettings:
        """Change the resource settings (admin), Optimizarr's body: the same change as
        POST /api/v1/settings/resources."""
        return from_warden(backend.change_settings(to_warden(change)))
