"""Memory pressure stage 1 (ADRG): squeeze tier 3's memory.high while some_avg10 is high.

Each tier-3 container gets memory.high = RSS x reduction_factor, floored at
half of tier 3's memory_max, and it only ever ratchets down while pressure
lasts. Unlike ADRG, a squeeze never sets memory.high above tier 3's own
memory_high: squeezing must not loosen the baseline. When some_avg10 is back
at or below the threshold, every squeeze is released. Unknown pressure
changes nothing: it neither starts nor ends one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from shared.config.model import MemoryPressure, Tier
from shared.messages import ContainerFact, PressureFact, Reason
from shared.units import parse_size

# ADRG's floor when tier 3 has no memory_max.
DEFAULT_TIER3_MEMORY_MAX = parse_size("3G")
METRIC = "memory.some_avg10"


@dataclass(frozen=True)
class Squeeze:
    """Stage 1 of the memory_pressure rule."""

    floors: dict[str, int]  # container name -> memory.high to apply
    reason: Reason | None


def memory_squeeze(
    cfg: MemoryPressure,
    tier3: Tier,
    pressure: PressureFact | None,
    candidates: Iterable[ContainerFact],
    floors: dict[str, int],
) -> Squeeze:
    """candidates: the running, unprotected tier-3 containers."""
    if not cfg.enabled:
        return Squeeze({}, None)
    if pressure is None or pressure.memory is None:
        if not floors:
            return Squeeze({}, None)
        holding = Reason(rule="memory_squeeze", metric=METRIC, detail="pressure unknown: holding")
        return Squeeze(dict(floors), holding)
    value = pressure.memory.some.avg10
    threshold = cfg.some_avg10_threshold
    if value <= threshold:
        return Squeeze({}, None)

    reason = Reason(rule="memory_squeeze", metric=METRIC, value=value, threshold=threshold)
    floor = int((tier3.memory_max or DEFAULT_TIER3_MEMORY_MAX) * 0.5)
    ceiling = tier3.memory_high
    squeezed: dict[str, int] = {}
    for container in candidates:
        previous = floors.get(container.name)
        if not container.rss_bytes:
            if previous is not None:
                squeezed[container.name] = previous
            continue
        target = max(int(container.rss_bytes * cfg.memory_high_reduction_factor), floor)
        if ceiling is not None:
            target = min(target, ceiling)
        squeezed[container.name] = min(previous, target) if previous is not None else target
    return Squeeze(squeezed, reason)
