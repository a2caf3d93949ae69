"""systemd: the notify protocol against a real NOTIFY_SOCKET, and the shipped unit files."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.stack.systemd import unit_text
from shared.sd_notify import notify, watchdog_interval
from tests.support.broker import Mosquitto
from tests.support.processes import REPO, Service, write_config
from tests.support.real import missing
from tests.support.systemd_units import (
    LIMITS,
    SERVICES,
    UNIT_NAMES,
    UNITS,
    analyze,
    environment,
    exposure,
    one,
    units,
)


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

    def wait_for(
        self, prefix: str, timeout: float = 30, after: float = 0.0, count: int = 1
    ) -> float:
        """When the count-th message starting with prefix came (at or after `after`)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            times = [at for at, m in self.messages if m.startswith(prefix) and at >= after]
            if len(times) >= count:
                return times[count - 1]
            self.collect(0.2)
        raise TimeoutError(f"not {count} {prefix!r}; got {[m for _t, m in self.messages]}")

    def close(self) -> None:
        self.sock.close()


@pytest.fixture(params=["abstract", "path"])
def notify_socket(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[NotifySocket]:
    name = f"@warden-test-{uuid.uuid4().hex}" if request.param == "abstract" else ""
    listener = NotifySocket(name or str(tmp_path / "notify.sock"))
    yield listener
    listener.close()


def test_notify_sends_one_datagram(notify_socket: NotifySocket) -> None:
    env = {"NOTIFY_SOCKET": notify_socket.address}
    assert notify("READY=1", env)
    assert not notify("READY=1", {})  # not under systemd: nothing to do
    # A later datagram: once it is here, any other the first call sent came before it.
    assert notify("STATUS=next", env)
    notify_socket.wait_for("STATUS=next")
    assert [m for _t, m in notify_socket.messages] == ["READY=1", "STATUS=next"]


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
    # Quick reconnects: it is ready soon after the broker comes.
    retry = {"reconnect_min_seconds": 0.2, "reconnect_max_seconds": 0.5}
    mqtt = {"host": own_broker.host, "port": own_broker.port, **retry}
    config = write_config(tmp_path / "config.yaml", {"host_id": host_id, "mqtt": mqtt})
    own_broker.stop()
    monkeypatch.setenv("NOTIFY_SOCKET", notify_socket.address)
    monkeypatch.setenv("WATCHDOG_USEC", "1000000")  # WatchdogSec=1: a ping every 0.5 s
    governor = Service("governor", config, tmp_path)
    # Only the governor's: Debian's mosquitto speaks the protocol too, and would say READY=1.
    monkeypatch.delenv("NOTIFY_SOCKET")
    monkeypatch.delenv("WATCHDOG_USEC")
    try:
        # No broker yet: alive (the watchdog pings, twice: it kept trying) but not ready.
        notify_socket.wait_for("WATCHDOG=1", count=2)
        assert not [m for _t, m in notify_socket.messages if m.startswith("READY=1")]
        own_broker.start()
        ready_at = notify_socket.wait_for("READY=1")
        notify_socket.wait_for("WATCHDOG=1", after=ready_at, count=2)
        assert len([m for _t, m in notify_socket.messages if m.startswith("READY=1")]) == 1, (
            notify_socket.messages
        )
        governor.process.send_signal(signal.SIGTERM)
        assert governor.process.wait(20) == 0
        notify_socket.wait_for("STOPPING=1")
    finally:
        governor.kill()


def test_units_are_notify_with_a_watchdog_and_the_actuator_cleans_up() -> None:
    found = units()
    assert set(found) == set(UNIT_NAMES)
    for name in SERVICES:
        unit = found[f"warden-{name}.service"]
        assert one(unit, "Type") == "notify"
        assert int(one(unit, "WatchdogSec")) > 0
        assert one(unit, "ExecStart").split()[0] == f"/opt/warden/bin/warden-{name}"
        assert one(unit, "ExecReload") == "/bin/kill -HUP $MAINPID"
        assert one(unit, "WantedBy", "Install") == "warden.target"
    target = one(found["warden.target"], "Wants", "Unit").split()
    assert set(target) == set(UNIT_NAMES) - {"warden.target"}
    actuator = found["warden-actuator.service"]
    # A stop puts everything back (and may take a while); a crash, restarted, keeps it.
    assert one(actuator, "ExecStart").endswith("--cleanup-on-stop")
    assert int(one(actuator, "TimeoutStopSec")) >= 120
    assert "ExecStopPost" not in actuator["Service"]


def test_each_unit_has_only_its_own_privileges_and_secrets() -> None:
    found = units()
    for name in SERVICES:
        unit = found[f"warden-{name}.service"]
        service = unit["Service"]
        credentials = {value.split(":")[0] for value in service.get("LoadCredential", [])}
        expected = {f"{name}.password"}
        expected |= {"signing.key"} if name in ("governor", "actuator") else set()
        expected |= {"web-admin.token"} if name == "web" else set()
        assert credentials == expected, name
        env = environment(unit)
        assert env["WARDEN_MQTT_SECRETS_DIR"] == "%d"
        assert ("WARDEN_SIGNING_KEY_FILE" in env) is (name in ("governor", "actuator"))
        if name == "actuator":
            # Root, with five capabilities' worth of power cut to three.
            assert "User" not in service
            caps = one(unit, "CapabilityBoundingSet").split()
            assert set(caps) == {"CAP_KILL", "CAP_SYS_NICE", "CAP_DAC_OVERRIDE"}
        else:
            assert one(unit, "User") == f"warden-{name}"
            assert one(unit, "CapabilityBoundingSet") == ""
        assert one(unit, "NoNewPrivileges") == "yes"
        assert one(unit, "ProtectSystem") == "strict"
        protected = name in ("actuator", "governor", "sensors")
        assert ("OOMScoreAdjust" in service) is protected, name
        if protected:
            assert one(unit, "OOMScoreAdjust") == "-900"
            assert one(unit, "MemoryMin").endswith("M")
    states = {n: found[f"warden-{n}.service"]["Service"].get("StateDirectory") for n in SERVICES}
    assert states == {
        "sensors": None,
        "governor": None,
        "actuator": ["warden"],
        "notifier": ["warden/notifier"],
        "web": ["warden/web"],
    }


def test_the_sensors_read_docker_through_the_proxy_alone() -> None:
    found = units()
    proxy = found["warden-docker-proxy.service"]
    bind = environment(proxy)["WARDEN_DOCKER_PROXY_BIND"]
    path = bind.split()[0].removeprefix("unix@")
    assert bind.endswith("mode 660 group warden-sensors")
    assert path.startswith(f"/run/{one(proxy, 'RuntimeDirectory')}/")
    assert one(proxy, "User") == "warden-docker-proxy"
    assert one(proxy, "PrivateNetwork") == "yes"
    assert one(proxy, "RestrictAddressFamilies") == "AF_UNIX"
    assert one(proxy, "ExecStart") == "/usr/sbin/haproxy -db -f /etc/warden/docker-proxy.cfg"
    sensors = found["warden-sensors.service"]
    assert environment(sensors)["WARDEN_SENSORS_DOCKER_URL"] == f"unix://{path}"
    assert "warden-docker-proxy.service" in one(sensors, "Wants", "Unit").split()
    # Nothing but the proxy is in the engine socket's group.
    for name, unit in found.items():
        groups = " ".join(unit.get("Service", {}).get("SupplementaryGroups", []))
        assert ("docker" in groups.split()) is (name == "warden-docker-proxy.service"), name


@pytest.mark.parametrize("unit", sorted(LIMITS))
def test_the_shipped_units_score_low(unit: str) -> None:
    assert exposure(str(UNITS / unit)) <= LIMITS[unit]


def commands_dir() -> Path:
    """A directory with warden-governor & co, where /opt/warden/bin stands in the units."""
    found = shutil.which("warden-governor")
    for candidate in (
        Path(sys.executable).parent,
        *([Path(found).parent] if found else []),
        REPO / ".venv" / "bin",
    ):
        if (candidate / "warden-actuator").exists():
            return candidate
    missing("no virtualenv with the warden-* commands (pip install -e .)")


def test_systemd_analyze_verifies_the_units(tmp_path: Path) -> None:
    if not Path("/usr/sbin/haproxy").exists():
        missing("HAProxy is not installed (apt-get install haproxy)")
    # The units as --setup-systemd installs them (unit_text), with the commands of this
    # checkout's virtualenv: verify checks that every command is executable.
    for path in UNITS.iterdir():
        (tmp_path / path.name).write_text(
            unit_text(path.read_text(), str(commands_dir()), "docker")
        )
    result = subprocess.run(
        [analyze(), "verify", *sorted(str(p) for p in tmp_path.iterdir())],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    # verify reports bad keys and values as warnings with exit code 0.
    ours = [ln for ln in result.stderr.splitlines() if "warden" in ln]
    assert ours == [], "\n".join(ours)
