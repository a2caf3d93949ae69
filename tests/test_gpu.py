"""GPUs: a fake NVML (this machine has no NVIDIA GPU), nvidia-smi output, AMD/Intel sysfs trees.

The sysfs layouts and the NVML replies are those of real machines (an RX 6600,
an Intel UHD 770 iGPU, an Arc A380, an RTX 3060); the fake NVML module is
injected where the real `pynvml` would be imported.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

from services.sensors.gpu import GpuReader
from services.sensors.gpu.nvidia_smi import parse_nvidia_smi
from services.sensors.gpu.nvml import (
    BoundedWorker,
    GpuUnavailable,
    NvmlReader,
    NvmlTimeout,
    import_pynvml,
)
from services.sensors.gpu.sysfs_amd_intel import SysfsGpuReader, busy_from_idle, list_cards
from shared.config.model import GpuSensors
from tests.support.sysfs_machines import write

GIB = 1024**3


class NVMLError(Exception):
    pass


class NVMLError_NotSupported(NVMLError):  # pynvml names it so
    pass


class FakeNvml(ModuleType):
    """What nvidia-ml-py's pynvml module offers, for a configurable set of GPUs: a module,
    as the readers' loaders return one."""

    NVML_TEMPERATURE_GPU = 0
    NVMLError = NVMLError
    NVMLError_NotSupported = NVMLError_NotSupported

    def __init__(self, gpus: list[dict[str, Any]], init_error: str | None = None) -> None:
        super().__init__("pynvml")
        self.gpus = gpus
        self.init_error = init_error
        self.hang = threading.Event()  # set: calls block until release is set
        self.release = threading.Event()
        self.calls = 0

    def _value(self, handle: int, key: str) -> Any:
        self.calls += 1
        if self.hang.is_set():
            self.release.wait(30)
        value = self.gpus[handle].get(key)
        if isinstance(value, Exception):
            raise value
        return value

    def nvmlInit(self) -> None:
        if self.init_error:
            raise NVMLError(self.init_error)

    def nvmlDeviceGetCount(self) -> int:
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:
        return index

    def nvmlDeviceGetName(self, handle: int) -> Any:
        return self._value(handle, "name")

    def nvmlDeviceGetUtilizationRates(self, handle: int) -> Any:
        return SimpleNamespace(gpu=self._value(handle, "util"), memory=0)

    def nvmlDeviceGetMemoryInfo(self, handle: int) -> Any:
        used, total = self._value(handle, "memory")
        return SimpleNamespace(used=used, total=total, free=max(0, total - used))

    def nvmlDeviceGetTemperature(self, handle: int, sensor: int) -> Any:
        assert sensor == self.NVML_TEMPERATURE_GPU
        return self._value(handle, "temp")

    def nvmlDeviceGetPowerUsage(self, handle: int) -> Any:
        return self._value(handle, "power_mw")

    def nvmlDeviceGetComputeRunningProcesses(self, handle: int) -> Any:
        return [SimpleNamespace(pid=p, usedGpuMemory=m) for p, m in self._value(handle, "compute")]

    def nvmlDeviceGetGraphicsRunningProcesses(self, handle: int) -> Any:
        return [SimpleNamespace(pid=p, usedGpuMemory=m) for p, m in self._value(handle, "graphics")]

    def nvmlDeviceGetProcessUtilization(self, handle: int, since: int) -> Any:
        return [SimpleNamespace(pid=p, smUtil=u) for p, u in self._value(handle, "proc_util")]


RTX_3060 = {
    "name": "NVIDIA GeForce RTX 3060",
    "util": 37,
    "memory": (int(2.1 * GIB), 12 * GIB),
    "temp": 54,
    "power_mw": 78_512,
    "compute": [(4242, int(1.5 * GIB))],
    # NVML reports "not available" memory as None (newer bindings) or 2**64-1 (older ones).
    "graphics": [(4242, None), (777, 2**64 - 1)],
    "proc_util": [(4242, 30)],
}
GTX_1050 = {
    "name": b"GeForce GTX 1050",  # older bindings return bytes
    "util": 3,
    "memory": (300 * 1024**2, 2 * GIB),
    "temp": 41,
    "power_mw": NVMLError_NotSupported("Not Supported"),
    "compute": NVMLError_NotSupported("Not Supported"),
    "graphics": [],
    "proc_util": [],
}


def reader_for(fake: FakeNvml, timeout: float = 2.0, proc_root: Path | str = "/proc") -> NvmlReader:
    return NvmlReader(timeout, proc_root, lambda: fake)


def test_nvml_reads_utilisation_memory_temperature_power_and_processes(tmp_path: Path) -> None:
    (tmp_path / "4242").mkdir()
    (tmp_path / "4242" / "comm").write_text("ffmpeg\n")
    gpus = reader_for(FakeNvml([RTX_3060, GTX_1050]), proc_root=tmp_path).read()
    rtx, gtx = gpus
    assert (rtx.vendor, rtx.index, rtx.source, rtx.name) == (
        "nvidia",
        0,
        "nvml",
        "NVIDIA GeForce RTX 3060",
    )
    assert rtx.utilization_percent == 37 and rtx.temperature_celsius == 54
    assert rtx.memory_used_bytes == int(2.1 * GIB) and rtx.memory_total_bytes == 12 * GIB
    assert rtx.power_watts == pytest.approx(78.512)
    assert rtx.errors == []
    assert rtx.processes is not None
    by_pid = {p.pid: p for p in rtx.processes}
    assert by_pid[4242].name == "ffmpeg" and by_pid[4242].used_memory_bytes == int(1.5 * GIB)
    assert by_pid[4242].utilization_percent == 30
    assert by_pid[777].used_memory_bytes is None and by_pid[777].name is None
    # What the card does not support is unknown, not an error and not 0.
    assert gtx.name == "GeForce GTX 1050" and gtx.power_watts is None and gtx.processes is None
    assert gtx.errors == []


@pytest.mark.parametrize(
    ("key", "value", "field", "why"),
    [
        ("util", 250, "utilization_percent", "not a percentage"),
        ("util", "busy", "utilization_percent", "not a number"),
        ("temp", 4000, "temperature_celsius", "outside"),
        ("power_mw", -5, "power_watts", "negative"),
        ("memory", (13 * GIB, 12 * GIB), "memory_used_bytes", "more than total"),
        ("name", "", "name", "not a name"),
        ("temp", NVMLError("Unknown Error"), "temperature_celsius", "Unknown Error"),
    ],
)
def test_bad_nvml_replies_become_unknown_with_the_reason(
    key: str, value: Any, field: str, why: str
) -> None:
    (gpu,) = reader_for(FakeNvml([{**RTX_3060, key: value}])).read()
    assert getattr(gpu, field) is None
    assert any(why in e for e in gpu.errors), gpu.errors


def fake_smi(tmp_path: Path, output: str, status: int = 0, delay: float = 0) -> str:
    script = tmp_path / "nvidia-smi"
    (tmp_path / "smi-output").write_text(output)
    script.write_text(f"#!/bin/sh\nsleep {delay}\ncat {tmp_path / 'smi-output'}\nexit {status}\n")
    script.chmod(0o755)
    return str(script)


SMI_3060 = "0, NVIDIA GeForce RTX 3060, 37, 2150, 12288, 54, 78.51\n"


def gpu_reader(
    tmp_path: Path, fake: FakeNvml | None, smi: str, timeout: float = 2.0, sys: Path | None = None
) -> GpuReader:
    def load() -> ModuleType:
        if fake is None:
            raise GpuUnavailable("NVML: nvidia-ml-py is not installed")
        return fake

    settings = GpuSensors(nvml_timeout_seconds=timeout, nvidia_smi=smi)
    return GpuReader(settings, sys or tmp_path / "sys", tmp_path, load)


def test_without_a_driver_nvidia_smi_is_the_fallback(tmp_path: Path) -> None:
    fake = FakeNvml([RTX_3060], init_error="Driver Not Loaded")
    fact = gpu_reader(tmp_path, fake, fake_smi(tmp_path, SMI_3060)).read("nas")
    assert fact.available
    (gpu,) = fact.gpus
    assert gpu.source == "nvidia-smi" and gpu.utilization_percent == 37
    assert gpu.memory_used_bytes == 2150 * 1024**2 and gpu.power_watts == 78.51
    assert any("Driver Not Loaded" in r for r in fact.reasons)


def test_a_hung_nvml_call_is_abandoned_and_nvidia_smi_answers(tmp_path: Path) -> None:
    fake = FakeNvml([RTX_3060])
    reader = gpu_reader(tmp_path, fake, fake_smi(tmp_path, SMI_3060), timeout=0.3)
    assert reader.read("nas").gpus[0].source == "nvml"

    fake.hang.set()  # a driver update in progress: the next NVML call never returns
    try:
        started = time.monotonic()
        fact = reader.read("nas")
        assert time.monotonic() - started < 5  # bounded by the timeout, not by the driver
        assert fact.gpus[0].source == "nvidia-smi"
        assert any("did not return within 0.3 s" in r for r in fact.reasons)
        calls = fake.calls
        fact = reader.read("nas")  # while stuck, NVML is not even asked
        assert fact.gpus[0].source == "nvidia-smi" and fake.calls == calls
        assert any("NVML is hung" in r for r in fact.reasons)
    finally:
        fake.hang.clear()
        fake.release.set()
    deadline = time.monotonic() + 5
    while reader._nvml.hung and time.monotonic() < deadline:
        time.sleep(0.05)
    assert reader.read("nas").gpus[0].source == "nvml"  # back once the stuck call returned


def test_bounded_worker_passes_results_and_errors() -> None:
    worker = BoundedWorker(1.0)
    assert worker.call(lambda a, b: a + b, 2, 3) == 5
    with pytest.raises(ZeroDivisionError):
        worker.call(lambda: 1 / 0)
    release = threading.Event()
    with pytest.raises(NvmlTimeout):
        BoundedWorker(0.1).call(release.wait, 10)
    release.set()


def test_no_gpu_at_all_is_none_available_with_reasons(tmp_path: Path) -> None:
    fact = gpu_reader(tmp_path, None, str(tmp_path / "no-nvidia-smi")).read("nas")
    assert not fact.available and fact.gpus == []
    assert any("not installed" in r for r in fact.reasons)
    assert any("not found" in r for r in fact.reasons)
    assert any(r.startswith("none available: no GPU under") for r in fact.reasons)


def test_gpu_disabled_in_the_config(tmp_path: Path) -> None:
    reader = GpuReader(GpuSensors(enabled=False), tmp_path, tmp_path)
    fact = reader.read("nas")
    assert not fact.available and fact.reasons == ["sensors.gpu.enabled is false"]


def test_nvidia_smi_failures_are_reasons(tmp_path: Path) -> None:
    failing = fake_smi(tmp_path, "NVIDIA-SMI has failed because it couldn't communicate\n", 9)
    fact = gpu_reader(tmp_path, None, failing).read("nas")
    assert not fact.available
    assert any("exit status 9" in r and "couldn't communicate" in r for r in fact.reasons)

    slow = fake_smi(tmp_path, SMI_3060, delay=5)
    reader = GpuReader(GpuSensors(nvidia_smi=slow, nvidia_smi_timeout_seconds=0.3), tmp_path, "/")
    fact = reader.read("nas")
    assert any("no answer within 0.3 s" in r for r in fact.reasons)


@pytest.mark.parametrize(
    ("line", "expect"),
    [
        (SMI_3060, {"index": 0, "utilization_percent": 37.0, "temperature_celsius": 54.0}),
        # A GTX 1050 has no power reading; nvidia-smi says so in brackets.
        (
            "1, GeForce GTX 1050, 3, 300, 2048, 41, [N/A]\n",
            {"index": 1, "power_watts": None, "memory_total_bytes": 2048 * 1024**2},
        ),
        (
            "0, Tesla T4, [Not Supported], 0, 15360, 30, 9.8\n",
            {"utilization_percent": None, "power_watts": 9.8},
        ),
        ("0, A2000, 120, 1, 2, 30, 9\n", {"utilization_percent": None}),
    ],
)
def test_nvidia_smi_lines(line: str, expect: dict[str, Any]) -> None:
    (gpu,), problems = parse_nvidia_smi(line)
    assert problems == []
    for key, value in expect.items():
        assert getattr(gpu, key) == value


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("0, NVIDIA, 37\n", "expected 7 fields, got 3"),
        ("x, NVIDIA, 1, 1, 1, 1, 1\n", "not a GPU index"),
        ("-1, NVIDIA, 1, 1, 1, 1, 1\n", "not a GPU index"),
    ],
)
def test_nvidia_smi_garbage_lines_are_refused(text: str, why: str) -> None:
    gpus, problems = parse_nvidia_smi(text)
    assert gpus == [] and any(why in p for p in problems)


def test_nvidia_smi_garbage_value_is_unknown_with_the_reason() -> None:
    (gpu,), _ = parse_nvidia_smi("0, NVIDIA, lots, 1, 2, 30, 9\n")
    assert gpu.utilization_percent is None
    assert any("'lots' is not a number" in e for e in gpu.errors)


# --- AMD and Intel sysfs -------------------------------------------------------------


def rx6600(root: Path) -> Path:
    return write(
        root,
        {
            "class/drm/card0/device/vendor": "0x1002\n",
            "class/drm/card0/device/device": "0x73ff\n",
            "class/drm/card0/device/gpu_busy_percent": "23\n",
            "class/drm/card0/device/mem_info_vram_used": "1073741824\n",
            "class/drm/card0/device/mem_info_vram_total": "8573157376\n",
            "class/drm/card0/device/hwmon/hwmon5/name": "amdgpu\n",
            "class/drm/card0/device/hwmon/hwmon5/temp1_label": "edge\n",
            "class/drm/card0/device/hwmon/hwmon5/temp1_input": "45000\n",
            "class/drm/card0/device/hwmon/hwmon5/temp2_label": "junction\n",
            "class/drm/card0/device/hwmon/hwmon5/temp2_input": "47000\n",
            "class/drm/card0/device/hwmon/hwmon5/power1_average": "15000000\n",
            # connectors and render nodes sit beside the cards
            "class/drm/card0-HDMI-A-1/status": "connected\n",
            "class/drm/renderD128/dev": "226:128\n",
            "class/drm/version": "drm 1.1.0 20060810\n",
        },
    )


def test_amd_through_sysfs(tmp_path: Path) -> None:
    (gpu,) = SysfsGpuReader(rx6600(tmp_path)).read(100.0)
    assert (gpu.vendor, gpu.index, gpu.source) == ("amd", 0, str(tmp_path / "class/drm/card0"))
    assert gpu.utilization_percent == 23
    assert (gpu.memory_used_bytes, gpu.memory_total_bytes) == (1073741824, 8573157376)
    assert gpu.temperature_celsius == 45.0 and gpu.power_watts == 15.0
    assert gpu.processes is None and gpu.errors == []


def test_amd_garbage_is_unknown_with_the_reason(tmp_path: Path) -> None:
    rx6600(tmp_path)
    write(
        tmp_path,
        {
            "class/drm/card0/device/gpu_busy_percent": "101\n",
            "class/drm/card0/device/mem_info_vram_used": "lots\n",
            "class/drm/card0/device/hwmon/hwmon5/temp1_input": "-273000\n",
        },
    )
    (gpu,) = SysfsGpuReader(tmp_path).read(100.0)
    assert gpu.utilization_percent is None and gpu.memory_used_bytes is None
    assert gpu.temperature_celsius == 47.0  # the next sensor (junction) still answers
    joined = " ".join(gpu.errors)
    assert "not a percentage" in joined and "'lots' is not an integer" in joined
    assert "outside" in joined


def test_intel_igpu_busy_from_rc6_residency(tmp_path: Path) -> None:
    counter = tmp_path / "class/drm/card0/gt/gt0/rc6_residency_ms"
    write(
        tmp_path,
        {
            "class/drm/card0/device/vendor": "0x8086\n",
            "class/drm/card0/gt/gt0/rc6_residency_ms": "1000\n",
            "class/drm/card0/gt_cur_freq_mhz": "300\n",
        },
    )
    reader = SysfsGpuReader(tmp_path)
    (first,) = reader.read(10.0)
    assert first.vendor == "intel" and first.utilization_percent is None  # one reading: no rate
    counter.write_text("1800\n")  # 800 ms idle in 1 s: 20 % busy
    (second,) = reader.read(11.0)
    assert second.utilization_percent == 20.0
    assert second.temperature_celsius is None and second.memory_used_bytes is None


def test_intel_arc_power_from_energy(tmp_path: Path) -> None:
    energy = tmp_path / "class/drm/card1/device/hwmon/hwmon3/energy1_input"
    write(
        tmp_path,
        {
            "class/drm/card1/device/vendor": "0x8086\n",
            "class/drm/card1/gt/gt0/rc6_residency_ms": "5000\n",
            "class/drm/card1/device/hwmon/hwmon3/name": "i915\n",
            "class/drm/card1/device/hwmon/hwmon3/energy1_input": "1000000\n",
            "class/drm/card1/device/hwmon/hwmon3/power1_max": "55000000\n",
        },
    )
    reader = SysfsGpuReader(tmp_path)
    reader.read(0.0)
    energy.write_text("13000000\n")  # 12 J in 2 s
    (gpu,) = reader.read(2.0)
    assert gpu.index == 1 and gpu.power_watts == 6.0


@pytest.mark.parametrize(
    ("previous", "now", "idle", "busy"),
    [
        (None, 1.0, 100.0, None),
        ((0.0, 0.0), 1.0, 1000.0, 0.0),
        ((0.0, 0.0), 1.0, 250.0, 75.0),
        ((0.0, 0.0), 2.0, 0.0, 100.0),
        ((0.0, 500.0), 1.0, 100.0, None),  # counter went back: reset
        ((1.0, 0.0), 1.0, 10.0, None),  # no time passed
        ((0.0, 0.0), 1.0, 1200.0, 0.0),  # a little over (rounding in the driver)
    ],
)
def test_busy_from_idle(
    previous: tuple[float, float] | None, now: float, idle: float, busy: float | None
) -> None:
    assert busy_from_idle(previous, now, idle) == busy


def test_an_nvidia_card_nobody_can_read_is_present_and_unknown(tmp_path: Path) -> None:
    sys = write(tmp_path / "sys", {"class/drm/card0/device/vendor": "0x10de\n"})
    fact = gpu_reader(tmp_path, None, str(tmp_path / "none"), sys=sys).read("nas")
    assert not fact.available
    (gpu,) = fact.gpus
    assert gpu.vendor == "nvidia" and gpu.utilization_percent is None and gpu.errors
    assert [c.vendor for c in list_cards(sys)] == ["nvidia"]


def test_amd_beside_nvidia_reads_both(tmp_path: Path) -> None:
    sys = rx6600(tmp_path / "sys")
    fact = gpu_reader(tmp_path, FakeNvml([RTX_3060]), "none", sys=sys).read("nas")
    assert fact.available and [(g.vendor, g.source) for g in fact.gpus] == [
        ("nvidia", "nvml"),
        ("amd", str(sys / "class/drm/card0")),
    ]
    assert fact.reasons == []


def test_this_machine(tmp_path: Path) -> None:
    """The real import and the real /sys: whatever is here, an answer, never a crash."""
    try:
        import_pynvml()
    except GpuUnavailable as exc:
        assert "nvidia-ml-py is not installed" in str(exc)
    fact = GpuReader(GpuSensors(nvml_timeout_seconds=5), "/sys", "/proc").read("here")
    if not fact.available:
        assert fact.reasons
