"""The time zone schedules are read in: the config's, else the host's, with its DST rules.

Python's local time knows only the offset in force now; schedules need the
zone's rules, to stay right across the next clock change. The host's zone is
`TZ` when it names one, else /etc/localtime (a zoneinfo file), else UTC.
"""

from __future__ import annotations

import os
from datetime import UTC, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

LOCALTIME = Path("/etc/localtime")


def host_zone(environ: dict[str, str] | None = None, localtime: Path = LOCALTIME) -> tzinfo:
    env = os.environ if environ is None else environ
    name = env.get("TZ", "").lstrip(":")
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass  # a POSIX rule string, or a zone this host lacks: try the file
    try:
        with localtime.open("rb") as file:
            return ZoneInfo.from_file(file, key=_key_of(localtime))
    except (OSError, ValueError):
        return UTC


def _key_of(localtime: Path) -> str | None:
    """The zone's name where /etc/localtime links into a zoneinfo tree, for the logs."""
    try:
        target = str(localtime.resolve())
    except OSError:
        return None
    marker = "/zoneinfo/"
    return target.split(marker, 1)[1] if marker in target else None


def zone_of(name: str | None) -> tzinfo:
    """The configured zone (already validated), else the host's."""
    return ZoneInfo(name) if name else host_zone()
