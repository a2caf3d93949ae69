"""AMD and Intel GPUs through /sys/class/drm, where their drivers expose load and hwmon.

- amdgpu: device/gpu_busy_percent, device/mem_info_vram_{used,total} (bytes),
  device/hwmon/hwmonN/{temp1_input (edge), power1_average or power1_input (uW)}.
- i915 / xe: no busy percentage file; the GPU's idle residency counter
  (gt/gt0/rc6_residency_ms, power/rc6_residency_ms, or xe's
  device/tile0/gt0/gtidle/idle_residency_ms) gives busy = 1 - idle time over
  two readings, so the first reading's load is unknown. Discrete cards add
  hwmon (temperature where exposed, power, or energy1_input in uJ read as a
  rate).
- NVIDIA cards are listed (NVML reads them), so an unreadable one can still be
  reported as present-but-unknown.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from services.sensors.gpu.nvml import BadValue, celsius, non_negative, percent
from shared.messages import GpuDevice

VENDORS = {"0x1002": "amd", "0x8086": "intel", "0x10de": "nvidia"}
_CARD = re.compile(r"^card(\d+)$")
IDLE_COUNTERS = (
    "gt/gt0/rc6_residency_ms",
    "power/rc6_residency_ms",
    "device/tile0/gt0/gtidle/idle_residency_ms",
)


@dataclass(frozen=True)
class Card:
    index: int
    path: Path
    vendor: str  # "amd", "intel", "nvidia", or the raw PCI vendor id


def parse_int(text: str, what: str) -> int:
    raw = text.strip()
    try:
        return int(raw)
    except ValueError:
        raise BadValue(f"{what}: {raw[:40]!r} is not an integer") from None


def busy_from_idle(
    previous: tuple[float, float] | None, now_s: float, idle_ms: float
) -> float | None:
    """Busy percent between two (time s, idle residency ms) readings; None on the first."""
    if previous is None:
        return None
    then_s, then_idle = previous
    elapsed_ms = (now_s - then_s) * 1000
    if elapsed_ms <= 0 or idle_ms < then_idle:
        return None  # a counter reset (suspend, driver reload): start again
    idle = min(1.0, (idle_ms - then_idle) / elapsed_ms)
    return round(100 * (1 - idle), 1)


def list_cards(sys_root: str | Path) -> list[Card]:
    drm = Path(sys_root) / "class" / "drm"
    if not drm.is_dir():
        return []
    cards = []
    for entry in drm.iterdir():
        match = _CARD.match(entry.name)  # skips connectors (card0-HDMI-A-1) and renderD*
        if not match:
            continue
        try:
            vendor_id = (entry / "device" / "vendor").read_text().strip().lower()
        except OSError:
            continue
        cards.append(Card(int(match.group(1)), entry, VENDORS.get(vendor_id, vendor_id)))
    return sorted(cards, key=lambda c: c.index)


@dataclass
class _Values:
    errors: list[str] = field(default_factory=list)

    def read(self, path: Path, parse: Callable[[str], float]) -> float | None:
        """A file that is absent is not exposed (unknown, fine); one that is bad is an error."""
        try:
            text = path.read_text()
        except FileNotFoundError:
            return None
        except OSError as exc:
            self.errors.append(f"{path}: {exc.strerror or exc}")
            return None
        try:
            return parse(text)
        except BadValue as exc:
            self.errors.append(f"{path}: {exc}")
            return None


def _hwmon_dirs(card: Card) -> list[Path]:
    base = card.path / "device" / "hwmon"
    return sorted(base.iterdir()) if base.is_dir() else []


class SysfsGpuReader:
    def __init__(self, sys_root: str | Path) -> None:
        self._sys_root = Path(sys_root)
        # counter file -> (time s, value) from the previous reading, for rates.
        self._previous: dict[str, tuple[float, float]] = {}

    def cards(self) -> list[Card]:
        return list_cards(self._sys_root)

    def read(self, now_s: float) -> list[GpuDevice]:
        devices = []
        for card in self.cards():
            if card.vendor == "amd":
                devices.append(self._amd(card, now_s))
            elif card.vendor == "intel":
                devices.append(self._intel(card, now_s))
        return devices

    def _rate(self, key: str, now_s: float, value: float) -> tuple[float, float] | None:
        previous = self._previous.get(key)
        self._previous[key] = (now_s, value)
        return previous

    def _hwmon(self, card: Card, v: _Values, now_s: float) -> tuple[float | None, float | None]:
        temperature = power = None
        for hwmon in _hwmon_dirs(card):
            if temperature is None:
                for name in ("temp1_input", "temp2_input"):
                    temperature = v.read(
                        hwmon / name,
                        lambda t, n=name: celsius(parse_int(t, n) / 1000, n),  # type: ignore[misc]
                    )
                    if temperature is not None:
                        break
            if power is None:
                for name in ("power1_average", "power1_input"):
                    power = v.read(
                        hwmon / name,
                        lambda t, n=name: non_negative(parse_int(t, n), n) / 1e6,  # type: ignore[misc]
                    )
                    if power is not None:
                        break
            if power is None:
                energy = v.read(
                    hwmon / "energy1_input",
                    lambda t: non_negative(parse_int(t, "energy1_input"), "energy1_input"),
                )
                if energy is not None:
                    previous = self._rate(str(hwmon / "energy1_input"), now_s, energy)
                    if previous and now_s > previous[0] and energy >= previous[1]:
                        power = round((energy - previous[1]) / 1e6 / (now_s - previous[0]), 3)
        return temperature, power

    def _amd(self, card: Card, now_s: float) -> GpuDevice:
        v = _Values()
        device = card.path / "device"
        busy = v.read(
            device / "gpu_busy_percent",
            lambda t: percent(parse_int(t, "gpu_busy_percent"), "gpu_busy_percent"),
        )
        used = v.read(device / "mem_info_vram_used", lambda t: parse_int(t, "mem_info_vram_used"))
        total = v.read(
            device / "mem_info_vram_total", lambda t: parse_int(t, "mem_info_vram_total")
        )
        if used is not None and total is not None and not 0 <= used <= total:
            v.errors.append(f"{device}: vram used {used:.0f} is outside 0..total {total:.0f}")
            used = None
        temperature, power = self._hwmon(card, v, now_s)
        return GpuDevice(
            vendor="amd",
            index=card.index,
            source=str(card.path),
            name=_product_name(device),
            utilization_percent=busy,
            memory_used_bytes=None if used is None else int(used),
            memory_total_bytes=None if total is None else int(total),
            temperature_celsius=temperature,
            power_watts=power,
            errors=v.errors,
        )

    def _intel(self, card: Card, now_s: float) -> GpuDevice:
        v = _Values()
        busy = None
        for relative in IDLE_COUNTERS:
            path = card.path / relative
            idle = v.read(path, lambda t, r=relative: non_negative(parse_int(t, r), r))  # type: ignore[misc]
            if idle is not None:
                busy = busy_from_idle(self._rate(str(path), now_s, idle), now_s, idle)
                break
        temperature, power = self._hwmon(card, v, now_s)
        return GpuDevice(
            vendor="intel",
            index=card.index,
            source=str(card.path),
            name=_product_name(card.path / "device"),
            utilization_percent=busy,
            temperature_celsius=temperature,
            power_watts=power,
            errors=v.errors,
        )


def _product_name(device: Path) -> str | None:
    try:
        return (device / "product_name").read_text().strip() or None
    except OSError:
        return None
