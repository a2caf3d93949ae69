"""Linux PSI from /proc/pressure/<resource>."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from shared.messages import PressureLine, ResourcePressure, StallShare

RESOURCES = ("cpu", "memory", "io")
# The kernel's avg10 is a ten-second average.
AVG10_SECONDS = 10.0


class PressureParseError(ValueError):
    pass


def parse_pressure(text: str, source: str = "pressure file") -> ResourcePressure:
    """Parse `some avg10=.. avg60=.. avg300=.. total=..` (and `full ...`) lines."""
    lines: dict[str, PressureLine] = {}
    for raw in text.splitlines():
        kind, _, rest = raw.strip().partition(" ")
        if kind not in ("some", "full"):
            continue
        fields = dict(part.split("=", 1) for part in rest.split() if "=" in part)
        try:
            lines[kind] = PressureLine(
                avg10=float(fields["avg10"]),
                avg60=float(fields["avg60"]),
                avg300=float(fields["avg300"]),
                total=int(fields["total"]),
            )
        except (KeyError, ValueError, ValidationError) as exc:
            raise PressureParseError(
                f"{source}: bad {kind!r} line {raw.strip()!r}: {exc}"
            ) from None
    if "some" not in lines:
        raise PressureParseError(f"{source}: no 'some' line")
    return ResourcePressure(some=lines["some"], full=lines.get("full"))


def read_pressure(proc_root: str | Path, resource: str) -> ResourcePressure:
    """Raises OSError when the file is missing (no PSI) and PressureParseError on garbage."""
    path = Path(proc_root) / "pressure" / resource
    return parse_pressure(path.read_text(), str(path))


def read_cgroup_pressure(cgroup_dir: str | Path, resource: str) -> ResourcePressure:
    """A cgroup2 directory's <resource>.pressure; raises as read_pressure does."""
    path = Path(cgroup_dir) / f"{resource}.pressure"
    return parse_pressure(path.read_text(), str(path))


def stall_share(
    resource: str,
    before_total: int | None,
    now: PressureLine,
    seconds: float,
    window: float,
) -> StallShare | None:
    """A cgroup's some-stall between two readings `seconds` apart, from the `total` counters
    (microseconds); None where they cannot tell (no earlier reading, a counter reset).

    Readings far apart (triggers armed and calm in between) would spread a stall that has just
    begun over all that calm: past two windows, the kernel's own avg10 says it instead.
    """
    if before_total is None or now.total < before_total or seconds <= 0:
        return None
    if seconds > 2 * window:
        return StallShare(
            resource=resource,  # type: ignore[arg-type]
            some_percent=round(min(100.0, now.avg10), 1),
            seconds=AVG10_SECONDS,
        )
    share = min(100.0, (now.total - before_total) / (seconds * 1e4))
    return StallShare(
        resource=resource,  # type: ignore[arg-type]
        some_percent=round(share, 1),
        seconds=round(seconds, 3),
    )
