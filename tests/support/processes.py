"""Warden services run as real processes, as supervisord or compose would run them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
# The five services, as their modules, units and containers are named.
SERVICES = ("sensors", "governor", "actuator", "notifier", "web")


def write_config(path: Path, config: dict) -> Path:
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


class Service:
    def __init__(
        self,
        name: str,
        config: Path,
        logdir: Path,
        *extra: str,
        wrap: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        python: str = sys.executable,
        cwd: Path = REPO,
    ) -> None:
        """wrap: an argv prefix the service runs under (`ip netns exec NS`, say);
        env: variables to set for it, beside this process's own; python: the interpreter
        (another virtualenv's, say); cwd: the checkout whose code runs (another commit's)."""
        self.name = name
        self.log = logdir / f"{name}.log"
        env = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            [*wrap, python, "-m", f"services.{name}", "--config", str(config), *extra],
            cwd=cwd,
            env=env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
        )

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(20)

    def stop(self) -> int:
        self.kill(signal.SIGTERM)
        return self.process.returncode

    def output(self) -> str:
        return self.log.read_text() if self.log.exists() else ""


# The two ways to put everything back: the actuator's own flag (systemd's ExecStopPost)
# and the `warden` command a person types.
CLEANUP_COMMANDS = {
    "warden-actuator --cleanup": ("-m", "services.actuator", "--cleanup"),
    "warden cleanup": ("-m", "cli", "cleanup"),
}


def run_cleanup(
    config: Path, via: str = "warden-actuator --cleanup"
) -> subprocess.CompletedProcess[str]:
    """Everything Warden changed put back, as an operator runs it (`via`: CLEANUP_COMMANDS)."""
    return subprocess.run(
        [sys.executable, *CLEANUP_COMMANDS[via], "--config", str(config)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def wait_until(condition: Callable[[], bool], timeout: float = 15.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise TimeoutError(f"timed out waiting for {what or condition}")


def command_lines() -> Iterator[tuple[int, list[bytes]]]:
    """(pid, argv) of every process this test can see in /proc."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            yield int(entry.name), (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
