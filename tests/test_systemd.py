"""systemd: the notify protocol against a real NOTIFY_SOCKET, and the shipped unit files."""

from __future__ import annotations

import configparser
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.sd_notify import notify, watchdog_interval
from tests.support.broker import Mosquitto
from tests.support.processes import REPO, Service, write_config
from tests.support.real import missing

UNITS = REPO / "deploy" / "systemd"
SERVICES = ("sensors", "governor", "actuator", "notifier")


class NotifySocket:
    """What systemd listens on: a unix datagram socket, abstract (`@name`) or a path."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + address[1:] if address.startswith("@") else address)
        self.sock.settimeout(0.2)
        self.messages: list[tuple[float, str]] = []

    def collect(self, seconds: float) -> list[str]:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                self.messages.append((time.monotonic(), self.sock.recv(4096).decode()))
            except TimeoutError:
                continue
        return [m for _t, m in self.messages]

    def wait_for(self, prefix: str, timeout: float) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for at, message in self.messages:
                if message.startswith(prefix):
                    return at
            self.collect(0.2)
        raise TimeoutError(f"no {prefix!r}; got {[m for _t, m in self.messages]}")

    def close(self) -> None:
        self.sock.close()


@pytest.fixture(params=["abstract", "path"])
def notify_socket(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[NotifySocket]:
    name = f"@warden-test-{uuid.uuid4().hex}" if request.param == "abstract" else ""
    listener = NotifySocket(name or str(tmp_path / "notify.sock"))
    yield listener
    listener.close()


def test_notify_sends_one_datagram(notify_socket: NotifySocket) -> None:
    assert notify("READY=1", {"NOTIFY_SOCKET": notify_socket.address})
    assert notify_socket.collect(0.3) == ["READY=1"]
    assert not notify("READY=1", {})  # not under systemd: nothing to do


def test_watchdog_interval_is_half_of_watchdog_sec() -> None:
    assert watchdog_interval({"WATCHDOG_USEC": "30000000"}) == 15.0
    assert watchdog_interval({}) is None
    assert watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}, pid=2) is None
    assert watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "2"}, pid=2) == 15.0


def test_a_service_is_ready_after_its_first_connect_and_pings_the_watchdog(
    tmp_path: Path,
    own_broker: Mosquitto,
    notify_socket: NotifySocket,
    host_id: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = write_config(
        tmp_path / "config.yaml",
        {
            "host_id": host_id,
            "mqtt": {
                "host": own_broker.host,
                "port": own_broker.port,
                "reconnect_min_seconds": 0.2,
                "reconnect_max_seconds": 0.5,
            },
        },
    )
    own_broker.stop()
    monkeypatch.setenv("NOTIFY_SOCKET", notify_socket.address)
    monkeypatch.setenv("WATCHDOG_USEC", "1000000")  # WatchdogSec=1: a ping every 0.5 s
    governor = Service("governor", config, tmp_path)
    # Only the governor's: Debian's mosquitto speaks the protocol too, and would say READY=1.
    monkeypatch.delenv("NOTIFY_SOCKET")
    monkeypatch.delenv("WATCHDOG_USEC")
    try:
        # No broker yet: alive (the watchdog pings) but not ready.
        early = notify_socket.collect(2.0)
        assert "WATCHDOG=1" in early
        assert not [m for m in early if m.startswith("READY=1")]
        own_broker.start()
        ready_at = notify_socket.wait_for("READY=1", timeout=15)
        notify_socket.collect(1.6)
        pings = [t for t, m in notify_socket.messages if m == "WATCHDOG=1" and t > ready_at]
        assert len(pings) >= 2
        assert len([m for _t, m in notify_socket.messages if m.startswith("READY=1")]) == 1, (
            notify_socket.messages
        )
        governor.process.send_signal(signal.SIGTERM)
        assert governor.process.wait(20) == 0
        notify_socket.wait_for("STOPPING=1", timeout=2)
    finally:
        governor.kill()


def units() -> dict[str, configparser.ConfigParser]:
    parsed = {}
    for path in sorted(UNITS.iterdir()):
        parser = configparser.ConfigParser(strict=False, interpolation=None)
        parser.optionxform = str  # type: ignore[assignment,method-assign]
        parser.read(path)
        parsed[path.name] = parser
    return parsed


def test_units_are_notify_with_a_watchdog_and_the_actuator_cleans_up() -> None:
    found = units()
    assert set(found) == {"warden.target", *(f"warden-{name}.service" for name in SERVICES)}
    for name in SERVICES:
        service = found[f"warden-{name}.service"]["Service"]
        assert service["Type"] == "notify"
        assert int(service["WatchdogSec"]) > 0
        assert service["ExecStart"].split()[0] == f"/opt/warden/bin/warden-{name}"
        assert service["ExecReload"] == "/bin/kill -HUP $MAINPID"
        assert found[f"warden-{name}.service"]["Install"]["WantedBy"] == "warden.target"
    actuator = found["warden-actuator.service"]["Service"]
    assert actuator["ExecStopPost"].endswith(
        "warden-actuator --config /etc/warden/config.yaml --cleanup"
    )
    # Only the actuator runs with root's powers to write; governor and notifier are not root.
    for name in ("governor", "notifier"):
        assert found[f"warden-{name}.service"]["Service"]["User"] == "warden"


def test_systemd_analyze_verifies_the_units(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        missing("systemd-analyze is not installed (apt-get install systemd)")
    # The units name /opt/warden/bin as the README installs it; here, this checkout's
    # virtualenv stands in, since verify checks that every command is executable.
    bin_dir = Path(os.path.dirname(shutil.which("warden-governor") or ""))
    if not (bin_dir / "warden-actuator").exists():
        bin_dir = REPO / ".venv" / "bin"
    for path in UNITS.iterdir():
        text = path.read_text().replace("/opt/warden/bin/", f"{bin_dir}/")
        (tmp_path / path.name).write_text(text)
    result = subprocess.run(
        [analyze, "verify", *sorted(str(p) for p in tmp_path.iterdir())],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    # verify reports bad keys and values as warnings with exit code 0.
    ours = [ln for ln in result.stderr.splitlines() if "warden" in ln]
    assert ours == [], "\n".join(ours)
