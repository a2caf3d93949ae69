"""What the host reads now, from its retained facts: the resources answer (Optimizarr's
/api/resources/current and the dashboard's) and the numbers history keeps. Pure."""

from __future__ import annotations

from services.web.models import GpuNow, ProcessNow, PsiNow, ResourcesNow, TemperatureNow
from services.web.view import View
from shared.messages import (
    GpuFact,
    PressureFact,
    ResourcePressure,
    ResourcesFact,
    StreamsFact,
    ThermalFact,
)


def _psi(resource: ResourcePressure | None) -> PsiNow | None:
    if resource is None:
        return None
    full = resource.full
    return PsiNow(
        some_avg10=resource.some.avg10,
        some_avg60=resource.some.avg60,
        full_avg10=full.avg10 if full else None,
        full_avg60=full.avg60 if full else None,
    )


def _gpus(gpu: GpuFact | None) -> list[GpuNow] | None:
    if gpu is None or not gpu.available or not gpu.gpus:
        return None
    return [
        GpuNow(
            index=d.index,
            vendor=d.vendor,
            name=d.name,
            utilization_percent=d.utilization_percent,
            memory_used_bytes=d.memory_used_bytes,
            memory_total_bytes=d.memory_total_bytes,
            temperature_celsius=d.temperature_celsius,
            power_watts=d.power_watts,
        )
        for d in gpu.gpus
    ]


def _busiest(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return max(known) if known else None


def resources_now(view: View) -> ResourcesNow:
    res, heat, pressure = view.resources, view.thermal, view.pressure
    machine = res.machine if res else None
    gpus = _gpus(view.gpu)
    psi = {
        kind: _psi(getattr(pressure, kind) if pressure else None)
        for kind in ("cpu", "memory", "io")
    }
    hottest = heat.max_celsius if heat and heat.available else None
    stamps = [m.ts for m in (res, heat, pressure, view.gpu) if m is not None]

    def psi_value(kind: str, line: str) -> float | None:
        now = psi[kind]
        return getattr(now, f"{line}_avg10") if now else None

    first = res or heat or pressure
    return ResourcesNow(
        host=first.host if first else "",
        cpu={
            "percent": machine.cpu_percent if machine else None,
            "count": machine.cpu_count if machine else None,
            "per_core_percent": machine.cpu_per_core_percent if machine else None,
        },
        memory={
            "percent": machine.memory_used_percent if machine else None,
            "total_bytes": machine.memory_total_bytes if machine else None,
            "available_bytes": machine.memory_available_bytes if machine else None,
            "used_bytes": machine.memory_used_bytes if machine else None,
        },
        gpu=gpus,
        disk={
            "read_bytes_per_second": machine.disk_read_bytes_per_second if machine else None,
            "write_bytes_per_second": machine.disk_write_bytes_per_second if machine else None,
            "reads_per_second": machine.disk_reads_per_second if machine else None,
            "writes_per_second": machine.disk_writes_per_second if machine else None,
            "read_bytes": machine.disk_read_bytes if machine else None,
            "write_bytes": machine.disk_write_bytes if machine else None,
            "reads": machine.disk_reads if machine else None,
            "writes": machine.disk_writes if machine else None,
        },
        top_processes=[ProcessNow(**p.model_dump()) for p in res.top_processes] if res else [],
        temperatures=[
            TemperatureNow(name=s.name, celsius=s.celsius, selected=s.selected)
            for s in (heat.sensors if heat else [])
        ],
        hottest_celsius=hottest,
        pressure=psi,
        streams=view.streams.count if view.streams else None,
        cpu_percent=machine.cpu_percent if machine else None,
        memory_percent=machine.memory_used_percent if machine else None,
        memory_used_bytes=machine.memory_used_bytes if machine else None,
        gpu_percent=_busiest([g.utilization_percent for g in gpus]) if gpus else None,
        gpu_temperature_c=_busiest([g.temperature_celsius for g in gpus]) if gpus else None,
        disk_read_bytes_per_second=machine.disk_read_bytes_per_second if machine else None,
        disk_write_bytes_per_second=machine.disk_write_bytes_per_second if machine else None,
        disk_reads_per_second=machine.disk_reads_per_second if machine else None,
        disk_writes_per_second=machine.disk_writes_per_second if machine else None,
        temperature_c=hottest,
        psi_cpu_some_avg10=psi_value("cpu", "some"),
        psi_memory_some_avg10=psi_value("memory", "some"),
        psi_memory_full_avg10=psi_value("memory", "full"),
        psi_io_some_avg10=psi_value("io", "some"),
        psi_io_full_avg10=psi_value("io", "full"),
        updated_at=max(stamps) if stamps else None,
    )


def samples_of(message: object) -> dict[str, float]:
    """The numbers history keeps from one fact; unknown readings are left out, not zero."""
    out: dict[str, float | None] = {}
    if isinstance(message, ResourcesFact):
        m = message.machine
        out |= {
            "cpu_percent": m.cpu_percent,
            "memory_percent": m.memory_used_percent,
            "disk_read_bytes_per_second": m.disk_read_bytes_per_second,
            "disk_write_bytes_per_second": m.disk_write_bytes_per_second,
        }
    elif isinstance(message, ThermalFact):
        out["temperature_c"] = message.max_celsius if message.available else None
    elif isinstance(message, GpuFact):
        gpus = _gpus(message) or []
        out["gpu_percent"] = _busiest([g.utilization_percent for g in gpus])
        out["gpu_temperature_c"] = _busiest([g.temperature_celsius for g in gpus])
    elif isinstance(message, PressureFact):
        for kind in ("cpu", "memory", "io"):
            resource: ResourcePressure | None = getattr(message, kind)
            if resource is not None:
                out[f"psi_{kind}_some_avg10"] = resource.some.avg10
                if resource.full is not None and kind != "cpu":
                    out[f"psi_{kind}_full_avg10"] = resource.full.avg10
    elif isinstance(message, StreamsFact):
        out["streams"] = message.count
    return {k: float(v) for k, v in out.items() if v is not None}
