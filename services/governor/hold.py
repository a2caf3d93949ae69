"""A recovery hold's progress, as a live reading: what a hysteresis rule is waiting for."""

from __future__ import annotations


def hold_reading(
    metric: str, value: float, since: float | None, now: float, hold_seconds: float, below: str
) -> str:
    """`since`: when the reading went below the recovery level, None while it is not."""
    if since is None:
        return f"{metric}={value:.1f}: not below {below} yet"
    return f"{metric}={value:.1f}: {now - since:.0f}s of {hold_seconds:g}s below {below}"
