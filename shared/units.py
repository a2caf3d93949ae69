"""Sizes and rates as ADRG writes them in config.yaml ("1.5G", "512M", 5 MB/s)."""

from __future__ import annotations

MIB = 1024 * 1024
# ADRG converts "MB per second" settings with 1024*1024 (its MB_PER_SEC).
MB_PER_SEC = MIB

_MULTIPLIERS = {"K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


def parse_size(value: int | float | str) -> int:
    """Bytes from a size such as 2G, 1.5G, 512M, 4096 (binary units, as ADRG reads them)."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a size")
    if isinstance(value, int | float):
        number = float(value)
        multiplier = 1
    else:
        text = value.strip().upper()
        if text.endswith("B") and len(text) > 1 and text[-2] in _MULTIPLIERS:
            text = text[:-1]  # "512MB" means the same as "512M"
        if not text:
            raise ValueError("empty size")
        multiplier = _MULTIPLIERS.get(text[-1], 1)
        digits = text[:-1] if text[-1] in _MULTIPLIERS else text
        try:
            number = float(digits)
        except ValueError:
            raise ValueError(
                f"{value!r} is not a size (expected a number with an optional K, M, G or T suffix)"
            ) from None
    if number <= 0:
        raise ValueError(f"{value!r} must be greater than zero")
    return int(number * multiplier)
