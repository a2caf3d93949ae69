"""The download clients' limits on real qbittorrent-nox and transmission-daemon, and what the
actuator sets again when a client lost them (a table)."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.actuator.download_clients import (
    DownloadClientError,
    Limits,
    Original,
    QBittorrent,
    Transmission,
    client_for,
)
from services.actuator.download_throttle import DownloadThrottleControl, lost
from services.actuator.state_store import StateStore
from shared.config.model import DownloadThrottle
from shared.logs import Log
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


def kib(bps: int) -> int:
    """What qBittorrent keeps of a limit: whole KiB per second."""
    return bps // 1024 * 1024


def test_qbittorrent_limits_are_set_read_back_and_restored(qbittorrent: Daemon) -> None:
    client = qbt(qbittorrent)
    client.write({"limit": 3 * MIB, "up_limit": MIB})  # the user's own settings before Warden
    original = client.read()
    assert original == {
        "limit": 3 * MIB,
        "up_limit": MIB,
        "alt_dl_limit": 10 * 1024,  # qBittorrent's default alternative limits
        "alt_up_limit": 10 * 1024,
        "alt_mode": False,
    }
    client.write(client.settings_for(Limits(11_000_000, 1_000_000), original))
    # A fresh session sees it too; qBittorrent keeps whole KiB.
    assert qbt(qbittorrent).read() == {
        **original,
        "limit": kib(11_000_000),
        "up_limit": kib(1_000_000),
    }
    client.restore(original)
    assert client.read() == original


def test_qbittorrent_alternative_speed_mode(qbittorrent: Daemon) -> None:
    client = qbt(qbittorrent)
    original = client.read()
    client.write(client.settings_for(Limits(11_000_000, 1_000_000, alternative=True), original))
    now = qbt(qbittorrent).read()
    assert now == {
        **original,
        "alt_dl_limit": kib(11_000_000),
        "alt_up_limit": kib(1_000_000),
        "alt_mode": True,
    }
    # The global limits are the user's all along.
    assert (now["limit"], now["up_limit"]) == (original["limit"], original["up_limit"])
    client.restore(original)
    assert client.read() == original and original["alt_mode"] is False


def test_qbittorrent_refuses_a_bad_password_with_the_reason(qbittorrent: Daemon) -> None:
    with pytest.raises(DownloadClientError, match="login refused"):
        qbt(qbittorrent, "wrong").read()


def test_transmission_limits_are_set_read_back_and_restored(transmission: Daemon) -> None:
    client = Transmission(f"http://127.0.0.1:{transmission.port}", "", "", 10)
    original = client.read()
    assert original["speed-limit-down-enabled"] is False
    assert original["speed-limit-up-enabled"] is False
    client.write(client.settings_for(Limits(11_000_000, 1_000_000), original))
    now = client.read()
    # Transmission counts kB of 1000.
    assert now == {
        **original,
        "speed-limit-down": 11_000,
        "speed-limit-down-enabled": True,
        "speed-limit-up": 1000,
        "speed-limit-up-enabled": True,
    }
    client.restore(original)
    assert client.read() == original


def test_transmission_turtle_mode(transmission: Daemon) -> None:
    client = Transmission(f"http://127.0.0.1:{transmission.port}", "", "", 10)
    original = client.read()
    client.write(client.settings_for(Limits(11_000_000, 1_000_000, alternative=True), original))
    assert client.read() == {
        **original,
        "alt-speed-down": 11_000,
        "alt-speed-up": 1000,
        "alt-speed-enabled": True,
    }
    client.restore(original)
    assert client.read() == original and original["alt-speed-enabled"] is False


def test_an_older_record_is_completed_before_the_first_change(
    tmp_path: Path, qbittorrent: Daemon
) -> None:
    """A record an older Warden kept (the download limit only) gets the user's other settings
    from the client before Warden changes them, so --cleanup puts back all of them."""
    client = qbt(qbittorrent)
    client.write({"limit": 3 * MIB, "up_limit": 2 * MIB})
    store = StateStore(tmp_path / "state.json", Log("test"))
    store.record_download("qbittorrent", "http://x", {"limit": 3 * MIB})
    control = DownloadThrottleControl(client, "http://x", store, False, Log("test"))
    assert control.apply(Limits(MIB, MIB), "test") is None
    assert store.download is not None and store.download.original["up_limit"] == 2 * MIB
    assert control.apply(None, "test") is None
    assert (client.read()["limit"], client.read()["up_limit"]) == (3 * MIB, 2 * MIB)
    assert store.download is None


TR = Transmission("http://127.0.0.1:9", "", "", 1)
QBT = QBittorrent("http://127.0.0.1:9", "", "", 1)
TR_OWN: Original = {
    "speed-limit-down": 3000,
    "speed-limit-down-enabled": True,
    "speed-limit-up": 2000,
    "speed-limit-up-enabled": False,
    "alt-speed-down": 50,
    "alt-speed-up": 50,
    "alt-speed-enabled": False,
}
TR_DEFAULTS: Original = {**TR_OWN, "speed-limit-down-enabled": False}
TR_WARDEN: Original = {
    **TR_OWN,
    "speed-limit-down": 11_000,
    "speed-limit-up": 1000,
    "speed-limit-up-enabled": True,
}
QBT_OWN: Original = {"limit": 0, "up_limit": 0, "alt_dl_limit": 10240, "alt_up_limit": 10240}
BOTH, DOWN = Limits(11_000_000, 1_000_000), Limits(11_000_000)


@pytest.mark.parametrize(
    ("client", "limits", "now", "gone"),
    [
        pytest.param(TR, BOTH, TR_WARDEN, {}, id="all kept"),
        pytest.param(
            TR,
            BOTH,
            TR_OWN,
            {"speed-limit-down": 11_000, "speed-limit-up": 1000, "speed-limit-up-enabled": True},
            id="back to the user's own",
        ),
        # Restarted with its defaults: a limit without its switch would not count.
        pytest.param(
            TR,
            DOWN,
            TR_DEFAULTS,
            {"speed-limit-down": 11_000, "speed-limit-down-enabled": True},
            id="back to the daemon's defaults",
        ),
        # Upload is not asked: the user's to change, as is turtle mode.
        pytest.param(
            TR,
            DOWN,
            {**TR_WARDEN, "speed-limit-up": 5, "alt-speed-enabled": True},
            {},
            id="what Warden does not ask",
        ),
        pytest.param(
            TR,
            Limits(11_000_000, 1_000_000, alternative=True),
            {**TR_OWN, "alt-speed-down": 11_000, "alt-speed-up": 1000},
            {"alt-speed-enabled": True},
            id="turtle switched off",
        ),
        pytest.param(
            QBT,
            BOTH,
            {**QBT_OWN, "limit": 10_999_808, "up_limit": 999_424, "alt_mode": False},
            {},
            id="qbittorrent: whole KiB kept",
        ),
        pytest.param(
            QBT,
            Limits(11_000_000, 1_000_000, alternative=True),
            {**QBT_OWN, "alt_mode": False},
            {"alt_dl_limit": 10_999_808, "alt_up_limit": 999_424, "alt_mode": True},
            id="qbittorrent: the alternative limits lost",
        ),
    ],
)
def test_what_the_client_lost_of_the_limits_asked(
    client: QBittorrent | Transmission, limits: Limits, now: Original, gone: Original
) -> None:
    assert lost(client.asked(limits), now) == gone


@pytest.mark.parametrize(
    ("bps", "kept"),
    [(11_000_000, 10_999_808), (2048, 2048), (2047, 1024), (100, 1024), (0, 1024)],
)
def test_qbittorrent_is_asked_for_whole_kib_as_it_keeps_them(bps: int, kept: int) -> None:
    """What settings_for asks for reads back the same: else each pass would see it lost."""
    assert QBT.asked(Limits(bps, bps)) == {"limit": kept, "up_limit": kept}


def test_limits_a_crashed_transmission_lost_are_set_again(
    tmp_path: Path, transmission: Daemon
) -> None:
    """A killed transmission-daemon keeps nothing session-set: the same limits, asked again on
    the next pass, are written again, and the user's own come back at the end."""
    client = Transmission(f"http://127.0.0.1:{transmission.port}", "", "", 10)
    original = client.read()
    control = DownloadThrottleControl(
        client, "http://x", StateStore(tmp_path / "state.json", Log("test")), False, Log("test")
    )
    limits = Limits(11_000_000, 1_000_000)
    assert control.apply(limits, "test") is None
    warden = client.read()
    assert (warden["speed-limit-down"], warden["speed-limit-up"]) == (11_000, 1000)
    client.write(original)  # what the restarted daemon has
    assert control.apply(limits, "test") is None
    assert client.read() == warden
    assert control.apply(None, "test") is None
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
    qbt(qbittorrent).write({"limit": 3 * MIB})
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
        wait_until(lambda: qbt(qbittorrent).read()["limit"] == MIB, what="throttled")
        throttling = DesiredState.model_validate_json(
            probe.wait_for(
                f"warden/{host_id}/desired",
                lambda s: json.loads(s.payload)["download_limit_bps"] == MIB,
            ).payload
        )
        assert throttling.media_mode and throttling.download_limit_bps == MIB
        probe.publish("warden/trigger", "media_stop")
        wait_until(lambda: qbt(qbittorrent).read()["limit"] == 3 * MIB, what="restored")

        # Throttled again, then both die at once: --cleanup gives the user's limit back.
        probe.publish("warden/trigger", "media_start")
        wait_until(lambda: qbt(qbittorrent).read()["limit"] == MIB, what="throttled again")
        governor.kill(signal.SIGKILL)
        actuator.kill(signal.SIGKILL)
    finally:
        governor.kill(signal.SIGTERM)
        actuator.kill(signal.SIGTERM)
    done = run_cleanup(cfg)
    assert done.returncode == 0, done.stderr
    assert qbt(qbittorrent).read()["limit"] == 3 * MIB
