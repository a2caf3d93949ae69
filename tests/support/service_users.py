"""Running Warden as its own system users: a Python and a checkout those users can reach,
a work directory they can pass through, and what the kernel lets each process open.

The tests' own interpreter may live where other users cannot go (a pyenv build under
/root, 0700). The stack's services then could not start as warden-sensors & co, so the
tests make a virtualenv with the system's python3 and the project's dependencies (once,
kept under /var/tmp), as scripts/run does on a real host.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

from tests.support.processes import REPO, command_lines

NOBODY = 65534
CACHE = Path("/var/tmp/warden-tests")


def reachable_by_others(path: Path, test: str = "-r") -> bool:
    """What `nobody` may do with `path` (its directories passed through), asked of the kernel."""
    result = subprocess.run(
        ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "test", test, path],
        check=False,
        capture_output=True,
    )
    return result.returncode == 0


def dependencies() -> list[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return list(project["dependencies"])


def service_python() -> str:
    """An interpreter other users may run, with Warden's dependencies: this one where it
    can be reached, else a virtualenv of the system's python3 made once for the tests.
    Raises RuntimeError (with the reason) when neither can be had."""
    if reachable_by_others(Path(sys.executable), "-x"):
        return sys.executable
    system = shutil.which("python3", path="/usr/bin:/bin")
    if system is None:
        raise RuntimeError("no python3 other users can run (apt-get install python3-venv)")
    wanted = dependencies()
    key = hashlib.sha256("\n".join([system, *wanted]).encode()).hexdigest()[:12]
    venv = CACHE / f"venv-{key}"
    python = venv / "bin" / "python"
    if not (venv / "ready").exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        CACHE.chmod(0o755)
        shutil.rmtree(venv, ignore_errors=True)
        steps = [
            [system, "-m", "venv", str(venv)],
            [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *wanted],
        ]
        for step in steps:
            result = subprocess.run(step, capture_output=True, text=True, timeout=600)
            if result.returncode != 0:
                raise RuntimeError(f"{' '.join(step[:4])}: {result.stderr.strip()[-500:]}")
        (venv / "ready").touch()
    return str(python)


def shared_workdir(prefix: str) -> Path:
    """A directory the services' users may pass through (pytest's tmp_path is root's alone)."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir="/var/tmp"))
    path.chmod(0o755)
    return path


@dataclass(frozen=True)
class Identity:
    """A process's users and groups, from /proc/<pid>/status."""

    uid: int
    gid: int
    groups: tuple[int, ...]

    @classmethod
    def of(cls, pid: int) -> Identity:
        fields = {}
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            fields[key] = value.split()
        # Real, effective, saved and file-system ids: all four must be the one.
        uids, gids = {int(u) for u in fields["Uid"]}, {int(g) for g in fields["Gid"]}
        assert len(uids) == 1 and len(gids) == 1, (pid, fields["Uid"], fields["Gid"])
        return cls(uids.pop(), gids.pop(), tuple(int(g) for g in fields.get("Groups", [])))

    def run(self, argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        """argv as a process with exactly these ids would run it."""
        return subprocess.run(  # type: ignore[call-overload]
            argv,
            user=self.uid,
            group=self.gid,
            extra_groups=list(self.groups),
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
            **kwargs,
        )

    def can_open(self, path: Path) -> bool:
        return self.run(["cat", str(path)]).returncode == 0


def pids_named(word: str) -> list[int]:
    """Processes whose command line holds `word` as one of its arguments."""
    name = os.fsencode(word)
    return [
        pid
        for pid, argv in command_lines()
        if any(name == arg or arg.endswith(b"/" + name) for arg in argv)
    ]
