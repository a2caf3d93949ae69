"""warden-stack run for real, as a user runs it (after its exec the process is supervisord),
and the services it started, found in /proc."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from tests.support.probe import Probe
from tests.support.processes import REPO, SERVICES, command_lines


def stack_command(config: Path, *options: str, python: str = sys.executable) -> list[str]:
    return [python, "-m", "services.stack", "--config", str(config), *options]


class Stack:
    def __init__(
        self,
        config: Path,
        run_dir: Path,
        *options: str,
        python: str = sys.executable,
        cwd: Path = REPO,
        user: tuple[int, int] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        """user: (uid, gid) to start it as, with no other group (a plain user's shell)."""
        self.log = run_dir.parent / "stack.log"
        self._sink = self.log.open("ab")
        if user is not None:
            # supervisord opens /dev/stdout again for each program: the file must be theirs.
            os.chown(self.log, *user)
        self.process = subprocess.Popen(
            stack_command(config, "--run-dir", str(run_dir), *options, python=python),
            cwd=cwd,
            env={**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"},
            stdout=self._sink,
            stderr=subprocess.STDOUT,
            user=None if user is None else user[0],
            group=None if user is None else user[1],
            extra_groups=None if user is None else [],
        )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def terminate(self, timeout: float = 90) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def cleanup(self) -> None:
        try:
            self.terminate()
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        self._sink.close()


def assert_all(
    probe: Probe,
    host_id: str,
    state: str,
    after: float,
    running: Stack,
    services: Sequence[str] = SERVICES,
) -> None:
    for name in services:
        topic = f"warden/{host_id}/{name}/availability"
        try:
            probe.wait_for(topic, lambda s: s.text == state, timeout=45, after=after)
        except TimeoutError:
            pytest.fail(f"{topic} never said {state}; stack output:\n{running.output()[-6000:]}")


def service_pid(name: str, config: Path) -> int:
    """The pid of `python -m services.<name> --config <config>`, found in /proc."""
    for pid, argv in command_lines():
        if f"services.{name}".encode() in argv and str(config).encode() in argv:
            return pid
    raise LookupError(f"no {name} running with {config}")
