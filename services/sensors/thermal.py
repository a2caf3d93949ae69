"""Temperatures from /sys/class/thermal zones and /sys/class/hwmon sensors.

Each sensor gets a stable, readable name: `zone/<type>` for a thermal zone
(`zone/x86_pkg_temp`, `zone/acpitz`) and `<chip>/<label>` for hwmon
(`coretemp/Package id 0`, `k10temp/Tctl`, `nvme/Composite`,
`drivetemp/temp1`). When two devices share a name (two NVMe drives), the
device is added: `nvme@nvme1/Composite`. The config's include/exclude globs
pick which sensors count towards the maximum; a host without any is "none
available", never 0 °C.
"""

from __future__ import annotations

import fnmatch
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from shared.messages import TemperatureReading, ThermalFact

# Outside this the value is a driver's "not connected" marker or garbage, not a temperature.
PLAUSIBLE_CELSIUS = (-60.0, 200.0)
_NUMBERED = re.compile(r"^(?:thermal_zone|hwmon)(\d+)$")
_TEMP_INPUT = re.compile(r"^temp(\d+)_input$")


class SensorValueError(ValueError):
    pass


def parse_millidegrees(text: str, source: str) -> float:
    """sysfs gives millidegrees Celsius as an integer."""
    raw = text.strip()
    try:
        value = int(raw)
    except ValueError:
        raise SensorValueError(f"{source}: {raw[:40]!r} is not an integer millidegree") from None
    celsius = value / 1000
    low, high = PLAUSIBLE_CELSIUS
    if not low <= celsius <= high:
        raise SensorValueError(f"{source}: {celsius} °C is outside {low}..{high} °C")
    return celsius


@dataclass(frozen=True)
class RawSensor:
    """One temperature file as found: a name and either its text or why it was unreadable."""

    name: str
    source: str
    text: str | None
    error: str | None = None


def selected(name: str, include: Sequence[str], exclude: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, g) for g in include) and not any(
        fnmatch.fnmatchcase(name, g) for g in exclude
    )


def readings(
    raw: Iterable[RawSensor], include: Sequence[str], exclude: Sequence[str]
) -> list[TemperatureReading]:
    result = []
    for sensor in raw:
        celsius, error = None, sensor.error
        if sensor.text is not None:
            try:
                celsius = parse_millidegrees(sensor.text, sensor.source)
            except SensorValueError as exc:
                error = str(exc)
        result.append(
            TemperatureReading(
                name=sensor.name,
                source=sensor.source,
                celsius=celsius,
                selected=selected(sensor.name, include, exclude),
                error=error,
            )
        )
    return result


def thermal_fact(
    host: str, raw: Sequence[RawSensor], include: Sequence[str], exclude: Sequence[str], where: str
) -> ThermalFact:
    sensors = readings(raw, include, exclude)
    chosen = [s for s in sensors if s.selected]
    known = [s for s in chosen if s.celsius is not None]
    if known:
        hottest = max(known, key=lambda s: s.celsius or 0.0)
        return ThermalFact(
            host=host,
            available=True,
            hottest=hottest.name,
            max_celsius=hottest.celsius,
            sensors=sensors,
        )
    if not sensors:
        reason = f"none available: no thermal zones or hwmon temperature sensors under {where}"
    elif not chosen:
        reason = (
            f"none available: {len(sensors)} sensor(s) found, none selected by "
            f"sensors.thermal include/exclude"
        )
    else:
        reason = "none available: every selected sensor is unreadable: " + "; ".join(
            s.error or s.name for s in chosen
        )
    return ThermalFact(host=host, available=False, reason=reason, sensors=sensors)


def unique_names(names: Sequence[tuple[str, str]]) -> list[str]:
    """(name, device) pairs -> names, with the device added where a name repeats."""
    counts = Counter(name for name, _ in names)
    return [f"{name}@{device}" if counts[name] > 1 else name for name, device in names]


# --- reading sysfs (I/O) -------------------------------------------------------


def _numbered(directory: Path, prefix: str) -> list[Path]:
    if not directory.is_dir():
        return []
    found = [
        p for p in directory.iterdir() if p.name.startswith(prefix) and _NUMBERED.match(p.name)
    ]
    return sorted(found, key=lambda p: int(_NUMBERED.match(p.name).group(1)))  # type: ignore[union-attr]


def _read(path: Path) -> tuple[str | None, str | None]:
    try:
        return path.read_text(), None
    except OSError as exc:
        return None, f"{path}: {exc.strerror or exc}"


def _first_line(path: Path) -> str | None:
    text, _ = _read(path)
    if text is None:
        return None
    line = text.strip().splitlines()[0].strip() if text.strip() else ""
    return line or None


def scan_zones(sys_root: str | Path) -> list[RawSensor]:
    zones = _numbered(Path(sys_root) / "class" / "thermal", "thermal_zone")
    kinds = [(_first_line(z / "type") or z.name, z.name) for z in zones]
    result = []
    for zone, name in zip(zones, unique_names(kinds), strict=True):
        text, error = _read(zone / "temp")
        result.append(RawSensor(f"zone/{name}", str(zone / "temp"), text, error))
    return result


def _hwmon_files(hwmon: Path) -> Path:
    # Older drivers keep name and temp files under device/.
    if (hwmon / "name").exists() or not (hwmon / "device" / "name").exists():
        return hwmon
    return hwmon / "device"


def scan_hwmon(sys_root: str | Path) -> list[RawSensor]:
    chips = []
    for hwmon in _numbered(Path(sys_root) / "class" / "hwmon", "hwmon"):
        files = _hwmon_files(hwmon)
        device = hwmon / "device"
        device_name = device.resolve().name if device.exists() else hwmon.name
        chips.append((files, (_first_line(files / "name") or hwmon.name, device_name)))
    result = []
    for (files, _), chip in zip(chips, unique_names([c for _, c in chips]), strict=True):
        inputs = []
        for entry in files.iterdir():
            match = _TEMP_INPUT.match(entry.name)
            if match:
                inputs.append((int(match.group(1)), entry))
        for number, entry in sorted(inputs):
            label = _first_line(files / f"temp{number}_label") or f"temp{number}"
            text, error = _read(entry)
            result.append(RawSensor(f"{chip}/{label}", str(entry), text, error))
    return result


def read_thermal(
    host: str, sys_root: str | Path, include: Sequence[str], exclude: Sequence[str]
) -> ThermalFact:
    raw = scan_zones(sys_root) + scan_hwmon(sys_root)
    where = f"{Path(sys_root) / 'class'}/{{thermal,hwmon}}"
    return thermal_fact(host, raw, include, exclude, where)
