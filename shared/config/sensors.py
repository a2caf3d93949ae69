"""Warden's sensors: where they read the host, how often, and which sensors count."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from shared.config.base import Section
from shared.config.docker import DockerAccess


class ThermalSensors(Section):
    """Which temperature sensors count, by name ("coretemp/Package id 0", "zone/acpitz")."""

    include: list[str] = Field(
        default=["*"],
        description="globs of sensor names (`coretemp/Package id 0`) that count to the hottest",
    )
    exclude: list[str] = Field(
        default=[], description="globs of sensor names left out, after include"
    )


class GpuSensors(Section):
    enabled: bool = Field(default=True, description="read GPUs (NVML, else nvidia-smi)")
    # NVML is known to hang during driver updates.
    nvml_timeout_seconds: Annotated[float, Field(gt=0, le=60)] = Field(
        default=2, description="longest wait (seconds) for one NVML call"
    )
    nvidia_smi: str = Field(
        default="nvidia-smi",
        description="the fallback when NVML is missing, finds no driver or hangs",
    )
    nvidia_smi_timeout_seconds: Annotated[float, Field(gt=0, le=60)] = Field(
        default=5, description="longest wait (seconds) for one nvidia-smi run"
    )


class Sensors(DockerAccess):
    proc_root: str = Field(default="/proc", description="where the sensors read processes and PSI")
    cgroup_root: str = Field(default="/sys/fs/cgroup", description="where the sensors read cgroups")
    sys_root: str = Field(
        default="/sys", description="where the sensors read temperatures, disks and GPUs"
    )
    heartbeat_seconds: Annotated[float, Field(gt=0)] = Field(
        default=30,
        description="facts go out on change, and unchanged ones again this often (seconds)",
    )
    psi_triggers: bool = Field(
        default=True,
        description="wake on kernel PSI triggers; false (or refused): poll pressure every "
        "`general.poll_interval_seconds`",
    )
    # Without CAP_SYS_RESOURCE the kernel only accepts windows of whole multiples of 2 s.
    psi_window_seconds: Annotated[int, Field(ge=2, le=10, multiple_of=2)] = Field(
        default=2, description="the PSI trigger window (seconds; a multiple of 2, at most 10)"
    )
    # cpu has no ADRG rule to take a threshold from.
    cpu_pressure_trigger_percent: Annotated[float, Field(gt=0, le=100)] = Field(
        default=50,
        description="cpu `some` stall share (% of the window) that fires the cpu trigger",
    )
    top_processes: Annotated[int, Field(ge=0, le=32)] = Field(
        default=5,
        description="the busiest processes in the resources fact: this many by CPU and by "
        "memory (0: none, and no scan of every process)",
    )
    condition_scan_seconds: Annotated[float, Field(gt=0)] = Field(
        default=2,
        description="how often the processes that `conditions` name are looked for (seconds)",
    )
    thermal: ThermalSensors = Field(
        default=ThermalSensors(), description="which temperature sensors count"
    )
    gpu: GpuSensors = Field(default=GpuSensors(), description="how GPUs are read")
