"""The processes conditions watch: the match, a fake /proc, and the real one; the host's zone."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from services.sensors.host_processes import matches, scan, watched
from shared.config.model import Condition, ProcessMatch
from shared.time_zone import host_zone

MOVER = Condition.model_validate(
    {"name": "mover", "process": {"name": ["mover"]}, "media_mode": True}
)
RESTIC = Condition.model_validate(
    {"name": "backup", "process": {"cmdline": [r"\brestic\b.*\bbackup\b"]}, "pause_tier3": True}
)


@pytest.mark.parametrize(
    ("match", "comm", "argv", "expected"),
    [
        ({"name": ["mover"]}, "mover", ["/bin/bash", "/usr/local/sbin/mover", "start"], True),
        # argv[0]'s basename counts too (a comm cut to 15 characters, a renamed thread).
        ({"name": ["snapraid"]}, "snapraid-runne", ["/usr/bin/snapraid", "sync"], True),
        ({"name": ["borg*"]}, "borg", ["borg", "create"], True),
        ({"name": ["mover"]}, "remover", ["remover"], False),  # a glob, not a substring
        ({"cmdline": [r"\brestic\b.*\bbackup\b"]}, "restic", ["restic", "backup", "/"], True),
        ({"cmdline": [r"\brestic\b.*\bbackup\b"]}, "restic", ["restic", "snapshots"], False),
        ({"cmdline": ["x"]}, "kworker", [], False),  # no command line: no cmdline match
    ],
)
def test_matches(match: dict[str, list[str]], comm: str, argv: list[str], expected: bool) -> None:
    assert matches(ProcessMatch.model_validate(match), comm, argv) is expected


def fake_process(root: Path, pid: int, comm: str, argv: list[str]) -> None:
    entry = root / str(pid)
    entry.mkdir(parents=True)
    fields = " ".join(["S"] + ["0"] * 18 + ["12345"] + ["0"] * 30)
    (entry / "stat").write_text(f"{pid} ({comm}) {fields}")
    (entry / "cmdline").write_bytes(b"\0".join(a.encode() for a in argv) + b"\0")


def test_scan_of_a_fake_proc(tmp_path: Path) -> None:
    fake_process(tmp_path, 1, "init", ["/sbin/init", "mover"])  # pid 1 never matches
    fake_process(tmp_path, 300, "mover", ["/bin/bash", "/usr/local/sbin/mover"])
    fake_process(tmp_path, 301, "restic", ["restic", "snapshots"])
    (tmp_path / "self").mkdir()
    fact = scan(tmp_path, [MOVER, RESTIC], "h")
    assert [(c.condition, c.running, [p.pid for p in c.processes]) for c in fact.conditions] == [
        ("mover", True, [300]),
        ("backup", False, []),
    ]
    assert fact.error is None


def test_an_unreadable_proc_is_an_error_not_a_crash(tmp_path: Path) -> None:
    fact = scan(tmp_path / "gone", [MOVER], "h")
    assert fact.conditions == [] and fact.error is not None and "gone" in fact.error


def test_only_process_conditions_are_watched() -> None:
    container = Condition.model_validate({"name": "c", "container": "x", "pause_tier3": True})
    assert watched([MOVER, container]) == [MOVER]


@pytest.fixture
def real_mover(tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A real process named like Unraid's mover: a copy of sleep called `mover`."""
    binary = tmp_path / "mover"
    shutil.copy(shutil.which("sleep") or "/bin/sleep", binary)
    process = subprocess.Popen([str(binary), "600"])
    yield process
    process.kill()
    process.wait()


def test_scan_of_the_real_proc_finds_a_real_mover(real_mover: subprocess.Popen[bytes]) -> None:
    (seen,) = scan("/proc", [MOVER], "h").conditions
    assert seen.running and real_mover.pid in [p.pid for p in seen.processes]
    real_mover.kill()
    real_mover.wait()
    (gone,) = scan("/proc", [MOVER], "h").conditions
    assert real_mover.pid not in [p.pid for p in gone.processes]


@pytest.mark.parametrize(
    ("tz", "expected"),
    [
        ("Europe/Berlin", "Europe/Berlin"),
        (":America/New_York", "America/New_York"),
    ],
)
def test_host_zone_from_tz(tz: str, expected: str) -> None:
    assert host_zone({"TZ": tz}) == ZoneInfo(expected)


def test_host_zone_from_localtime_or_utc(tmp_path: Path) -> None:
    berlin = Path("/usr/share/zoneinfo/Europe/Berlin")
    link = tmp_path / "localtime"
    link.symlink_to(berlin)
    zone = host_zone({}, link)
    assert str(zone) == "Europe/Berlin"
    assert zone.utcoffset(datetime(2024, 7, 1)) == timedelta(seconds=7200)
    assert host_zone({"TZ": "EST5EDT,M3.2.0,M11.1.0x"}, tmp_path / "none") is UTC
