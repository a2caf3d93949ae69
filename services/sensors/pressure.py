"""Linux PSI from /proc/pressure/<resource>."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from shared.messages import PressureLine, ResourcePressure

RESOURCES = ("cpu", "memory", "io")


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
