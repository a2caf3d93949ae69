"""The shipped systemd units, read as systemd reads them, and scored by systemd-analyze."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from tests.support.processes import REPO, SERVICES
from tests.support.real import missing

UNITS = REPO / "deploy" / "systemd"
UNIT_NAMES = (
    "warden.target",
    *(f"warden-{name}.service" for name in SERVICES),
    "warden-docker-proxy.service",
)

Unit = dict[str, dict[str, list[str]]]


def read_unit(path: Path) -> Unit:
    """section -> key -> every value, in order: a unit may repeat a key (LoadCredential=,
    Environment=), which configparser would keep only the last of."""
    sections: Unit = {}
    current: dict[str, list[str]] = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def units(directory: Path = UNITS) -> dict[str, Unit]:
    return {path.name: read_unit(path) for path in sorted(directory.iterdir())}


def one(unit: Unit, key: str, section: str = "Service") -> str:
    [value] = unit[section][key]
    return value


def environment(unit: Unit) -> dict[str, str]:
    pairs = [v.strip('"').split("=", 1) for v in unit["Service"].get("Environment", [])]
    return {key: value for key, value in pairs}


# What `systemd-analyze security` may score each unit at most (the bar: systemd's
# own systemd-oomd scores 1.9).
LIMITS = {name: 2.5 for name in UNIT_NAMES if name.endswith(".service")}
LIMITS["warden-actuator.service"] = 5.0


def analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found is None:
        missing("systemd-analyze is not installed (apt-get install systemd)")
    return found


def exposure(*arguments: str) -> float:
    """systemd-analyze security's overall exposure (0 safe ... 10 unsafe) for one unit."""
    result = subprocess.run(
        [analyze(), "security", "--offline=yes", "--no-pager", *arguments],
        capture_output=True,
        text=True,
        timeout=60,
    )
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert match, (result.stdout[-2000:], result.stderr)
    return float(match.group(1))
