"""NVIDIA GPUs through NVML (nvidia-ml-py, the optional `gpu` extra), nvidia-smi as fallback.

NVML is known to hang while a driver is being updated, so every NVML call
runs on a worker thread and is given up after a timeout; from then on the
reader uses nvidia-smi (with its own timeout) until the stuck call returns.
Everything NVML or nvidia-smi says is validated: a value that makes no sense
becomes unknown (None) with the reason, never 0.
"""

from __future__ import annotations

import importlib
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from shared.messages import GpuDevice, GpuProcess

PLAUSIBLE_CELSIUS = (-60.0, 200.0)


class GpuUnavailable(Exception):
    """This reader cannot see any GPU; the message says why."""


class NvmlTimeout(GpuUnavailable):
    pass


class BadValue(ValueError):
    pass


# --- validation (pure) ----------------------------------------------------------


def percent(value: object, what: str) -> float:
    number = number_of(value, what)
    if not 0 <= number <= 100:
        raise BadValue(f"{what}: {number} is not a percentage")
    return number


def number_of(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadValue(f"{what}: {value!r} is not a number")
    return float(value)


def non_negative(value: object, what: str) -> float:
    number = number_of(value, what)
    if number < 0:
        raise BadValue(f"{what}: {number} is negative")
    return number


def celsius(value: object, what: str) -> float:
    number = number_of(value, what)
    low, high = PLAUSIBLE_CELSIUS
    if not low <= number <= high:
        raise BadValue(f"{what}: {number} °C is outside {low}..{high} °C")
    return number


def text_of(value: object, what: str) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str) or not value.strip():
        raise BadValue(f"{what}: {value!r} is not a name")
    return value.strip()


@dataclass
class Fields:
    """Collects a device's values; a bad or refused one is None with its reason."""

    values: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def take(
        self, key: str, read: Callable[[], Any], unsupported: tuple[type[BaseException], ...] = ()
    ) -> None:
        try:
            self.values[key] = read()
        except NvmlTimeout:
            raise
        except unsupported:
            self.values[key] = None  # the driver does not have it: unknown, nothing wrong
        except Exception as exc:
            self.values[key] = None
            self.errors.append(str(exc) if isinstance(exc, BadValue) else f"{key}: {exc}")


# --- the bounded worker ----------------------------------------------------------


@dataclass
class _Job:
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    done: threading.Event = field(default_factory=threading.Event)
    result: Any = None
    error: BaseException | None = None


class BoundedWorker:
    """Runs calls one at a time on a daemon thread, each given up after `timeout` seconds.

    After a timeout the thread is presumed stuck in the driver: every call fails
    at once, without queueing behind it, until the stuck one returns.
    """

    def __init__(self, timeout: float, name: str = "nvml") -> None:
        self.timeout = timeout
        self._jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._stuck: _Job | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                job.result = job.fn(*job.args)
            except BaseException as exc:
                job.error = exc
            job.done.set()

    @property
    def stuck(self) -> bool:
        return self._stuck is not None and not self._stuck.done.is_set()

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        name = getattr(fn, "__name__", repr(fn))
        if self.stuck:
            stuck = getattr(self._stuck.fn, "__name__", "?") if self._stuck else "?"
            raise NvmlTimeout(f"NVML is hung: {stuck} has not returned")
        job = _Job(fn, args)
        self._jobs.put(job)
        if not job.done.wait(self.timeout):
            self._stuck = job
            raise NvmlTimeout(f"NVML {name} did not return within {self.timeout:g} s")
        if job.error is not None:
            raise job.error
        return job.result


# --- NVML ------------------------------------------------------------------------


def import_pynvml() -> ModuleType:
    try:
        return importlib.import_module("pynvml")
    except ImportError:
        raise GpuUnavailable(
            "NVML: nvidia-ml-py is not installed (pip install 'warden[gpu]')"
        ) from None


def _comm(proc_root: Path, pid: int) -> str | None:
    try:
        return (proc_root / str(pid) / "comm").read_text().strip() or None
    except OSError:
        return None


class NvmlReader:
    def __init__(
        self,
        timeout: float,
        proc_root: str | Path = "/proc",
        load: Callable[[], ModuleType] = import_pynvml,
    ) -> None:
        self._load = load
        self._proc_root = Path(proc_root)
        self._worker = BoundedWorker(timeout)
        self._nvml: ModuleType | None = None
        self._initialised = False

    @property
    def hung(self) -> bool:
        return self._worker.stuck

    def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        return self._worker.call(fn, *args)

    def _ensure(self) -> ModuleType:
        if self._nvml is None:
            self._nvml = self._load()
        nvml = self._nvml
        if not self._initialised:
            try:
                self._call(nvml.nvmlInit)
            except NvmlTimeout:
                raise
            except Exception as exc:
                # No driver, no library: retried on the next reading (a driver may load later).
                raise GpuUnavailable(f"NVML: cannot initialise: {exc}") from None
            self._initialised = True
        return nvml

    def read(self) -> list[GpuDevice]:
        nvml = self._ensure()
        try:
            count = int(number_of(self._call(nvml.nvmlDeviceGetCount), "device count"))
        except (NvmlTimeout, GpuUnavailable):
            raise
        except Exception as exc:
            self._initialised = False
            raise GpuUnavailable(f"NVML: cannot count devices: {exc}") from None
        return [self._device(nvml, index) for index in range(count)]

    def _device(self, nvml: ModuleType, index: int) -> GpuDevice:
        handle = self._call(nvml.nvmlDeviceGetHandleByIndex, index)
        unsupported = tuple(
            cls for cls in (getattr(nvml, "NVMLError_NotSupported", None),) if isinstance(cls, type)
        )
        f = Fields()
        f.take("name", lambda: text_of(self._call(nvml.nvmlDeviceGetName, handle), "name"))
        f.take(
            "utilization",
            lambda: percent(
                self._call(nvml.nvmlDeviceGetUtilizationRates, handle).gpu, "utilization"
            ),
            unsupported,
        )

        def memory() -> tuple[int, int]:
            info = self._call(nvml.nvmlDeviceGetMemoryInfo, handle)
            used = non_negative(info.used, "memory used")
            total = non_negative(info.total, "memory total")
            if used > total:
                raise BadValue(f"memory: used {used:.0f} is more than total {total:.0f}")
            return int(used), int(total)

        f.take("memory", memory, unsupported)
        f.take(
            "temperature",
            lambda: celsius(
                self._call(nvml.nvmlDeviceGetTemperature, handle, nvml.NVML_TEMPERATURE_GPU),
                "temperature",
            ),
            unsupported,
        )
        f.take(
            "power",
            lambda: non_negative(self._call(nvml.nvmlDeviceGetPowerUsage, handle), "power") / 1000,
            unsupported,
        )
        f.take("processes", lambda: self._processes(nvml, handle), unsupported)
        used_total = f.values.get("memory") or (None, None)
        return GpuDevice(
            vendor="nvidia",
            index=index,
            source="nvml",
            name=f.values.get("name"),
            utilization_percent=f.values.get("utilization"),
            memory_used_bytes=used_total[0],
            memory_total_bytes=used_total[1],
            temperature_celsius=f.values.get("temperature"),
            power_watts=f.values.get("power"),
            processes=f.values.get("processes"),
            errors=f.errors,
        )

    def _processes(self, nvml: ModuleType, handle: object) -> list[GpuProcess]:
        memory: dict[int, int | None] = {}
        for getter in (
            "nvmlDeviceGetComputeRunningProcesses",
            "nvmlDeviceGetGraphicsRunningProcesses",
        ):
            fn = getattr(nvml, getter, None)
            if fn is None:
                continue
            for proc in self._call(fn, handle):
                pid = int(non_negative(proc.pid, "process pid"))
                used = getattr(proc, "usedGpuMemory", None)
                # nvidia-ml-py reports "not available" as None; older builds as 2**64-1.
                valid = isinstance(used, int) and not isinstance(used, bool) and 0 <= used < 2**63
                memory[pid] = (memory.get(pid) or 0) + used if valid else memory.get(pid)  # type: ignore[operator]
        utilisation: dict[int, float] = {}
        fn = getattr(nvml, "nvmlDeviceGetProcessUtilization", None)
        if fn is not None and memory:
            try:
                for sample in self._call(fn, handle, 0):
                    utilisation[int(sample.pid)] = percent(sample.smUtil, "process sm utilization")
            except NvmlTimeout:
                raise
            except Exception:
                pass  # NVML has no samples yet (NOT_FOUND) or no support: unknown per process
        return [
            GpuProcess(
                pid=pid,
                name=_comm(self._proc_root, pid),
                used_memory_bytes=used,
                utilization_percent=utilisation.get(pid),
            )
            for pid, used in sorted(memory.items())
        ]
