"""A host reading by the name rules give it in their reasons and thresholds
(`memory.some_avg10`, `io.full_avg60`, `temperature_c`), read from the facts. Pure."""

from __future__ import annotations

from shared.messages import PressureFact, ThermalFact

TEMPERATURE = "temperature_c"


def host_reading(
    metric: str, pressure: PressureFact | None, thermal: ThermalFact | None
) -> float | None:
    """The live value, or None where the facts do not carry it (or it is unknown)."""
    if metric == TEMPERATURE:
        return thermal.max_celsius if thermal and thermal.available else None
    resource, _, rest = metric.partition(".")
    line, _, window = rest.partition("_")
    if pressure is None or resource not in ("cpu", "memory", "io") or line not in ("some", "full"):
        return None
    found = getattr(pressure, resource)
    part = getattr(found, line, None) if found is not None else None
    value = getattr(part, window, None) if part is not None else None
    return value if isinstance(value, int | float) else None
