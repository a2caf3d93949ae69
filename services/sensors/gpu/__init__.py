"""GPUs: NVIDIA through NVML (nvidia-smi as fallback), AMD and Intel through sysfs.

A host with no GPU, no driver or no nvidia-ml-py gets a GpuFact that says
"none available" and why, never a crash and never a 0 % GPU.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from services.sensors.gpu.nvidia_smi import parse_nvidia_smi, run_nvidia_smi
from services.sensors.gpu.nvml import GpuUnavailable, NvmlReader, import_pynvml
from services.sensors.gpu.sysfs_amd_intel import SysfsGpuReader
from shared.config.model import GpuSensors
from shared.messages import GpuDevice, GpuFact


class GpuReader:
    def __init__(
        self,
        settings: GpuSensors,
        sys_root: str | Path,
        proc_root: str | Path,
        load_nvml: Callable[[], ModuleType] = import_pynvml,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._nvml = NvmlReader(settings.nvml_timeout_seconds, proc_root, load_nvml)
        self._sysfs = SysfsGpuReader(sys_root)
        self._clock = clock
        self._drm = Path(sys_root) / "class" / "drm"

    def _nvidia(self) -> tuple[list[GpuDevice], list[str]]:
        try:
            return self._nvml.read(), []
        except GpuUnavailable as exc:
            nvml_reason = str(exc)
        try:
            output = run_nvidia_smi(
                self._settings.nvidia_smi, self._settings.nvidia_smi_timeout_seconds
            )
        except GpuUnavailable as exc:
            return [], [nvml_reason, str(exc)]
        devices, problems = parse_nvidia_smi(output)
        # Say why the fallback is in use, or a hung NVML would go unnoticed.
        return devices, [nvml_reason, *problems]

    def read(self, host: str) -> GpuFact:
        if not self._settings.enabled:
            return GpuFact(host=host, available=False, reasons=["sensors.gpu.enabled is false"])
        nvidia, nvidia_reasons = self._nvidia()
        cards = self._sysfs.cards()
        others = self._sysfs.read(self._clock())
        nvidia_cards = [c for c in cards if c.vendor == "nvidia"]
        unread = []
        if not nvidia:
            # A card the kernel shows but no reader could read: present, its values unknown.
            unread = [
                GpuDevice(vendor="nvidia", index=c.index, source=str(c.path), errors=nvidia_reasons)
                for c in nvidia_cards
            ]
        reasons = []
        # Why NVIDIA is unknown matters when there is (or may be) an NVIDIA GPU, or a fallback.
        if nvidia or nvidia_cards or not others:
            reasons += nvidia_reasons
        if not (nvidia or others or unread):
            reasons.append(f"none available: no GPU under {self._drm}")
        return GpuFact(
            host=host,
            available=bool(nvidia or others),
            gpus=nvidia + others + unread,
            reasons=reasons,
        )
