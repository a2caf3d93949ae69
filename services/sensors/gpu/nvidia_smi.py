"""nvidia-smi, the fallback where NVML is missing or hung: its CSV query, each value
validated as NVML's are (unknown, with the reason, never 0)."""

from __future__ import annotations

import csv
import io
import subprocess
from collections.abc import Callable, Sequence

from services.sensors.gpu.nvml import (
    BadValue,
    Fields,
    GpuUnavailable,
    celsius,
    non_negative,
    percent,
)
from shared.messages import GpuDevice

SMI_FIELDS = (
    "index",
    "name",
    "utilization.gpu",
    "memory.used",
    "memory.total",
    "temperature.gpu",
    "power.draw",
)
MIB = 1024 * 1024


def _smi_value(raw: str) -> str | None:
    value = raw.strip()
    # "[N/A]", "[Not Supported]", "N/A", "[Unknown Error]": nvidia-smi's ways of saying unknown.
    if not value or value.startswith("[") or value.upper() == "N/A":
        return None
    return value


def _smi_number(raw: str, what: str) -> float | None:
    value = _smi_value(raw)
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        raise BadValue(f"{what}: {value[:40]!r} is not a number") from None


def parse_nvidia_smi(text: str) -> tuple[list[GpuDevice], list[str]]:
    """`--query-gpu=<SMI_FIELDS> --format=csv,noheader,nounits` -> devices, and lines refused."""
    devices: list[GpuDevice] = []
    problems: list[str] = []
    for row in csv.reader(io.StringIO(text), skipinitialspace=True):
        if not row or not "".join(row).strip():
            continue
        if len(row) != len(SMI_FIELDS):
            problems.append(
                f"nvidia-smi: expected {len(SMI_FIELDS)} fields, got {len(row)}: "
                f"{','.join(row)[:80]!r}"
            )
            continue
        raw = dict(zip(SMI_FIELDS, row, strict=True))
        try:
            index = int(raw["index"].strip())
            if index < 0:
                raise ValueError
        except ValueError:
            problems.append(f"nvidia-smi: index {raw['index'][:20]!r} is not a GPU index")
            continue
        f = Fields()
        f.take("name", lambda raw=raw: _smi_value(raw["name"]))  # type: ignore[misc]

        def opt(fn: Callable[[object, str], float], key: str, what: str, raw=raw) -> float | None:
            value = _smi_number(raw[key], what)
            return None if value is None else fn(value, what)

        f.take("utilization", lambda: opt(percent, "utilization.gpu", "utilization"))
        f.take("used", lambda: opt(non_negative, "memory.used", "memory used"))
        f.take("total", lambda: opt(non_negative, "memory.total", "memory total"))
        f.take("temperature", lambda: opt(celsius, "temperature.gpu", "temperature"))
        f.take("power", lambda: opt(non_negative, "power.draw", "power"))
        used, total = f.values["used"], f.values["total"]
        devices.append(
            GpuDevice(
                vendor="nvidia",
                index=index,
                source="nvidia-smi",
                name=f.values["name"],
                utilization_percent=f.values["utilization"],
                memory_used_bytes=None if used is None else int(used * MIB),
                memory_total_bytes=None if total is None else int(total * MIB),
                temperature_celsius=f.values["temperature"],
                power_watts=f.values["power"],
                errors=f.errors,
            )
        )
    return devices, problems


def run_nvidia_smi(command: str, timeout: float) -> str:
    args: Sequence[str] = [
        command,
        f"--query-gpu={','.join(SMI_FIELDS)}",
        "--format=csv,noheader,nounits",
    ]
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError:
        raise GpuUnavailable(f"nvidia-smi: {command} not found") from None
    except subprocess.TimeoutExpired:
        raise GpuUnavailable(f"nvidia-smi: no answer within {timeout:g} s") from None
    except OSError as exc:
        raise GpuUnavailable(f"nvidia-smi: cannot run {command}: {exc.strerror or exc}") from None
    if done.returncode != 0:
        said = (done.stdout + done.stderr).strip().splitlines()
        raise GpuUnavailable(
            f"nvidia-smi: exit status {done.returncode}: {(said[0] if said else '')[:160]}"
        )
    return done.stdout
