"""Optimizarr's quick presets for process groups, and how a preset is named on the bus."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Annotated, Literal, get_args

from pydantic import BeforeValidator

PresetName = Literal["conservative", "balanced", "aggressive"]
PRESET_NAMES: tuple[PresetName, ...] = get_args(PresetName)
DEFAULT_PRESET: PresetName = "balanced"


def _lowered(value: object) -> object:
    return value.strip().lower() if isinstance(value, str) else value


# A preset name as people write it ("Conservative", as Home Assistant's select and
# Optimizarr's buttons show it): any case is the same preset.
AnyCasePreset = Annotated[PresetName, BeforeValidator(_lowered)]


@dataclass(frozen=True)
class Preset:
    cpu_threshold_percent: float
    memory_threshold_percent: float
    gpu_threshold_percent: float
    nice: int


PRESETS: dict[PresetName, Preset] = {
    "conservative": Preset(70, 70, 75, 15),
    "balanced": Preset(85, 80, 85, 10),
    "aggressive": Preset(95, 90, 95, 5),
}


def in_force(own: object, preset: PresetName) -> Preset:
    """The numbers in force: each one `own` sets (a process group's, the run-time
    settings'; None: not set), else the preset's."""
    base = PRESETS[preset]
    values = {
        f.name: getattr(base, f.name)
        if getattr(own, f.name, None) is None
        else getattr(own, f.name)
        for f in fields(Preset)
    }
    return Preset(**values)


def display_name(name: PresetName) -> str:
    """As Home Assistant's select shows it (its options are capitalised)."""
    return name.capitalize()
