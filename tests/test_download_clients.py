"""The download clients' global limit on real qbittorrent-nox and transmission-daemon."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.actuator.download_clients import (
    DownloadClientError,
    QBittorrent,
    Transmission,
    client_for,
)
from shared.config.model import DownloadThrottle
from shared.messages import DesiredState
from tests.support.broker import Mosquitto
from tests.support.download_daemons import (
    QBT_PASSWORD,
    QBT_USER,
    Daemon,
    start_qbittorrent,
    start_transmission,
)
from tests.support.http_capture import Capture
from tests.support.probe import Probe
from tests.support.processes import Service, run_cleanup, wait_until, write_config
from tests.support.real import missing

MIB = 1024**2


@pytest.fixture
def qbittorrent(tmp_path: Path) -> Iterator[Daemon]:
    try:
        daemon = start_qbittorrent(tmp_path)
    except RuntimeError as exc:
        missing(str(exc))
    yield daemon
    daemon.stop()


@pytest.fixture
def transmission(tmp_path: Path) -> Iterator[Daemon]:
    try:
        daemon = start_transmission(tmp_path)
    except RuntimeError as exc:
        missing(str(exc))
    yield daemon
    daemon.stop()


def qbt(daemon: Daemon, password: str = QBT_PASSWORD) -> QBittorrent:
    return QBittorrent(f"http://127.0.0.1:{daemon.port}", QBT_USER, password, 10)


def test_qbittorrent_limit_is_set_read_back_and_restored(qbittorrent: Daemon) -> None:
    client = qbt(qbittorrent)
    client.set_limit(3 * MIB)  # the user's own setting before Warden
    original = client.read()
    assert original == {"limit": 3 * MIB}
    client.set_limit(5 * MIB)
    assert qbt(qbittorrent).read() == {"limit": 5 * MIB}  # a fresh session sees it too
    client.restore(original)
    assert client.read() == original


def test_qbittorrent_refuses_a_bad_password_with_the_reason(qbittorrent: Daemon) -> None:
    with pytest.raises(DownloadClientError, match="login refused"):
        qbt(qbittorrent, "wrong").read()


def test_transmission_limit_is_set_read_back_and_restored(transmission: Daemon) -> None:
    client = Transmission(f"http://127.0.0.1:{transmission.port}", "", "", 10)
    original = client.read()
    assert original["speed-limit-down-enabled"] is False
    client.set_limit(5 * MIB)
    now = client.read()
    assert now["speed-limit-down-enabled"] is True
    assert now["speed-limit-down"] == round(5 * MIB / 1000)  # Transmission counts kB of 1000
    client.restore(original)
    assert client.read() == original


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (500, b"oops", "HTTP 500"),
        (200, b"not json", "not JSON"),
        (200, b'{"result": "no such method"}', "no such method"),
        (200, b'{"result": "success", "arguments": {}}', "bad reply"),
    ],
)
def test_transmission_garbage_is_an_error_with_the_reason(
    status: int, body: bytes, reason: str
) -> None:
    server = Capture(status=status, body=body)
    try:
        with pytest.raises(DownloadClientError, match=reason):
            Transmission(server.url, "", "", 5).read()
    finally:
        server.close()


def test_unreachable_client_is_an_error_not_a_crash() -> None:
    cfg = DownloadThrottle(enabled=True, url="http://127.0.0.1:9", timeout_seconds=2)
    with pytest.raises(DownloadClientError, match="ConnectionError"):
        client_for(cfg).read()


def test_media_mode_throttles_qbittorrent_and_cleanup_restores_it(
    tmp_path: Path, broker: Mosquitto, probe: Probe, qbittorrent: Daemon, host_id: str
) -> None:
    qbt(qbittorrent).set_limit(3 * MIB)
    cfg = write_config(
        tmp_path / "config.yaml",
        {
            "host_id": host_id,
            "mqtt": {"host": broker.host, "port": broker.port},
            "media_mode": {
                "enabled": True,
                "provider": "webhook",
                "cooldown_seconds": 0,
                "download_throttle": {
                    "enabled": True,
                    "provider": "qbittorrent",
                    "url": f"http://127.0.0.1:{qbittorrent.port}",
                    "username": QBT_USER,
                    "password": QBT_PASSWORD,
                    "limit_mb_per_sec": 1,
                },
            },
            "governor": {"lease_seconds": 10, "renew_seconds": 2},
            "actuator": {"state_file": str(tmp_path / "state.json"), "startup_grace_seconds": 1},
        },
    )
    governor, actuator = Service("governor", cfg, tmp_path), Service("actuator", cfg, tmp_path)
    try:
        for name in ("governor", "actuator"):
            probe.wait_for(f"warden/{host_id}/{name}/availability", lambda s: s.text == "online")
        probe.publish("warden/trigger", "media_start")
        wait_until(lambda: qbt(qbittorrent).read() == {"limit": MIB}, what="throttled")
        throttling = DesiredState.model_validate_json(
            probe.wait_for(
                f"warden/{host_id}/desired",
                lambda s: json.loads(s.payload)["download_limit_bps"] == MIB,
            ).payload
        )
        assert throttling.media_mode and throttling.download_limit_bps == MIB
        probe.publish("warden/trigger", "media_stop")
        wait_until(lambda: qbt(qbittorrent).read() == {"limit": 3 * MIB}, what="restored")

        # Throttled again, then both die at once: --cleanup gives the user's limit back.
        probe.publish("warden/trigger", "media_start")
        wait_until(lambda: qbt(qbittorrent).read() == {"limit": MIB}, what="throttled again")
        governor.kill(signal.SIGKILL)
        actuator.kill(signal.SIGKILL)
    finally:
        governor.kill(signal.SIGTERM)
        actuator.kill(signal.SIGTERM)
    done = run_cleanup(cfg)
    assert done.returncode == 0, done.stderr
    assert qbt(qbittorrent).read() == {"limit": 3 * MIB}
