"""Stream-aware bandwidth through real processes: Tautulli webhooks with bitrates reach the
sensors, the governor reserves them, the actuator sets a real qbittorrent-nox's or
transmission-daemon's limits (the global ones, or the alternative speed / turtle mode); the
limits hold after the streams end, come back after the actuator is killed and restarted, and
the user's own settings return when the hold is over. One scenario, one row per client and mode.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from services.actuator.download_clients import DownloadClient, Original, client_for
from shared.config.model import DownloadThrottle
from shared.messages import DesiredState, LastDecision
from tests.support.broker import Mosquitto, free_port
from tests.support.download_daemons import (
    QBT_PASSWORD,
    QBT_USER,
    Daemon,
    start_qbittorrent,
    start_transmission,
)
from tests.support.media_servers import FakeMediaServer, tautulli_session
from tests.support.probe import Probe, Seen
from tests.support.processes import Service, wait_until, write_config
from tests.support.real import missing
from tests.support.webhook_bodies import tautulli_body

MIB = 1024**2
TOKEN = "hook-s3cret"
# Two remote streams of 4 and 2 Mbps, times 2.0: 12 Mbps of a 20/100 Mbps line reserved.
UPLOAD_BPS, DOWNLOAD_BPS = 8 * 125_000, 88 * 125_000
# The hold after the last stream ends: long enough for the actuator's kill and restart.
HOLD_SECONDS = 30


def kib(bps: int) -> int:
    """What qBittorrent keeps of a limit: whole KiB per second."""
    return bps // 1024 * 1024


def kb(bps: int) -> int:
    """Transmission's unit: kB of 1000 per second."""
    return bps // 1000


@dataclass(frozen=True)
class Case:
    provider: str
    mode: str
    # The user's own settings, written before Warden starts.
    user: Original
    # What two streams change of them; every other setting stays the user's.
    streams: Original


QBT_USER_LIMITS: Original = {
    "limit": 3 * MIB,
    "up_limit": 2 * MIB,
    "alt_dl_limit": 500 * 1024,
    "alt_up_limit": 100 * 1024,
}
# The upload limit off: its switch must come back off, its number as it was.
TR_USER_LIMITS: Original = {
    "speed-limit-down": 3000,
    "speed-limit-down-enabled": True,
    "speed-limit-up": 2000,
    "speed-limit-up-enabled": False,
    "alt-speed-down": 500,
    "alt-speed-up": 100,
}

CASES = [
    pytest.param(
        Case(
            "qbittorrent",
            "limits",
            QBT_USER_LIMITS,
            {"limit": kib(DOWNLOAD_BPS), "up_limit": kib(UPLOAD_BPS)},
        ),
        id="qbittorrent-limits",
    ),
    pytest.param(
        Case(
            "qbittorrent",
            "alternative",
            QBT_USER_LIMITS,
            {"alt_dl_limit": kib(DOWNLOAD_BPS), "alt_up_limit": kib(UPLOAD_BPS), "alt_mode": True},
        ),
        id="qbittorrent-alternative",
    ),
    pytest.param(
        Case(
            "transmission",
            "limits",
            TR_USER_LIMITS,
            {
                "speed-limit-down": kb(DOWNLOAD_BPS),
                "speed-limit-down-enabled": True,
                "speed-limit-up": kb(UPLOAD_BPS),
                "speed-limit-up-enabled": True,
            },
        ),
        id="transmission-limits",
    ),
    pytest.param(
        Case(
            "transmission",
            "alternative",
            TR_USER_LIMITS,
            {
                "alt-speed-down": kb(DOWNLOAD_BPS),
                "alt-speed-up": kb(UPLOAD_BPS),
                "alt-speed-enabled": True,
            },
        ),
        id="transmission-turtle",
    ),
]


@pytest.fixture(params=CASES)
def case(request: pytest.FixtureRequest) -> Case:
    return request.param


@pytest.fixture
def daemon(case: Case, tmp_path: Path) -> Iterator[Daemon]:
    workdir = tmp_path / case.provider
    workdir.mkdir()
    start = start_qbittorrent if case.provider == "qbittorrent" else start_transmission
    try:
        started = start(workdir)
    except RuntimeError as exc:
        missing(str(exc))
    yield started
    started.stop()


def client_config(case: Case, daemon: Daemon) -> dict[str, object]:
    """The config's download_throttle section for the daemon (qBittorrent's login, if it)."""
    url = f"http://127.0.0.1:{daemon.port}"
    if case.provider == "qbittorrent":
        return {
            "provider": "qbittorrent",
            "url": url,
            "username": QBT_USER,
            "password": QBT_PASSWORD,
        }
    return {"provider": "transmission", "url": url}


@pytest.fixture
def tautulli() -> Iterator[FakeMediaServer]:
    fake = FakeMediaServer()
    yield fake
    fake.close()


def activity(*sessions: dict[str, object]) -> dict[str, object]:
    data = {"stream_count": str(len(sessions)), "sessions": list(sessions)}
    return {"response": {"result": "success", "message": None, "data": data}}


def remote(machine: str, kbps: int) -> dict[str, object]:
    """A remote session as Tautulli's activity lists it, with its bandwidth in kbps."""
    return {**tautulli_session(machine, location="wan"), "bandwidth": str(kbps)}


def config(
    tmp_path: Path,
    broker: Mosquitto,
    host_id: str,
    server: FakeMediaServer,
    client: dict[str, object],
    hold: float,
    mode: str = "limits",
) -> Path:
    return write_config(
        tmp_path / "config.yaml",
        {
            "host_id": host_id,
            "mqtt": {"host": broker.host, "port": broker.port, "keepalive_seconds": 5},
            "general": {"poll_interval_seconds": 600},
            "sensors": {"heartbeat_seconds": 600},
            # Media mode off: the bandwidth rule needs only the server's sessions.
            "media_mode": {
                "enabled": False,
                "provider": "tautulli",
                "url": server.url,
                "api_key": "tt-key",
                # A 10-minute poll: only the webhooks bring the news in time.
                "poll_seconds": 600,
                "timeout_seconds": 2,
                "webhook": {"enabled": True, "port": free_port(), "token": TOKEN},
                "download_throttle": client,
            },
            "bandwidth": {
                "upload_mbps": 20,
                "download_mbps": 100,
                "hold_seconds": {"video": hold},
                "client_mode": mode,
            },
            "governor": {"lease_seconds": 10, "renew_seconds": 2},
            "actuator": {"state_file": str(tmp_path / "state.json"), "startup_grace_seconds": 1},
        },
    )


def hook_url(cfg: Path) -> str:
    port = yaml.safe_load(cfg.read_text())["media_mode"]["webhook"]["port"]
    return f"http://127.0.0.1:{port}/webhook/tautulli/{TOKEN}"


def webhook(url: str, action: str, machine: str, kbps: int) -> None:
    body = tautulli_body(
        action,
        machine_id=machine,
        media_type="movie",
        stream_bandwidth=str(kbps),
        stream_local="0",
        ip_address="203.0.113.7",
    )
    assert requests.post(url, json=body, timeout=5).status_code == 202


def client_intent(seen: Seen) -> Any:
    return DesiredState.model_validate_json(seen.payload).download_client


def start(
    names: tuple[str, ...], cfg: Path, tmp_path: Path, probe: Probe, host_id: str
) -> list[Service]:
    services = [Service(n, cfg, tmp_path) for n in names]
    for name in names:
        probe.wait_for(f"warden/{host_id}/{name}/availability", lambda s: s.text == "online")
    return services


def stop(services: list[Service]) -> None:
    for service in services:
        service.kill(signal.SIGTERM)
    for service in services:
        assert "Traceback" not in service.output(), service.output()


def test_two_streams_set_the_clients_limits_which_hold_survive_a_restart_and_end(
    tmp_path: Path,
    broker: Mosquitto,
    probe: Probe,
    host_id: str,
    case: Case,
    daemon: Daemon,
    tautulli: FakeMediaServer,
) -> None:
    section = client_config(case, daemon)
    # The test reads and writes the daemon with its own client, not the actuator's.
    client: DownloadClient = client_for(DownloadThrottle.model_validate(section))
    client.write(case.user)
    users = client.read()
    expected = {**users, **case.streams}
    assert expected != users and set(expected) == set(users)
    tautulli.answer(activity())
    cfg = config(tmp_path, broker, host_id, tautulli, section, HOLD_SECONDS, case.mode)
    desired = f"warden/{host_id}/desired"
    url = hook_url(cfg)
    services = start(("sensors", "governor", "actuator"), cfg, tmp_path, probe, host_id)
    try:
        # Two streams start: each webhook makes the sensors ask Tautulli at once.
        tautulli.answer(activity(remote("tv-a", 4000)))
        webhook(url, "play", "tv-a", 4000)
        tautulli.answer(activity(remote("tv-a", 4000), remote("tv-b", 2000)))
        webhook(url, "play", "tv-b", 2000)
        wait_until(lambda: client.read() == expected, what="the streams' limits")
        intent = client_intent(probe.wait_for(desired, lambda s: client_intent(s) is not None))
        assert (intent.upload_bps, intent.download_bps) == (UPLOAD_BPS, DOWNLOAD_BPS)
        assert intent.alternative is (case.mode == "alternative")
        assert "2 stream(s) reserve 12 Mbps" in intent.reasons[0].detail
        # The decision log and Home Assistant's last decision say it, with the reason.
        decision = probe.wait_for(
            f"warden/{host_id}/governor/decision",
            lambda s: "upload 8 Mbps, download 88 Mbps" in s.text,
        )
        assert LastDecision.model_validate_json(decision.payload).container == "download client"

        # The client loses them while the actuator runs (its own crash: a killed
        # transmission-daemon keeps nothing session-set): the actuator sets them again.
        client.write(users)
        wait_until(lambda: client.read() == expected, what="the limits back in the client")

        # Both end: the reservations hold (the desired state says so), and so do the limits.
        ended = time.monotonic()
        tautulli.answer(activity())
        webhook(url, "stop", "tv-a", 4000)
        webhook(url, "stop", "tv-b", 2000)
        held = probe.wait_for(
            desired,
            lambda s: (c := client_intent(s)) is not None and "2 held" in c.reasons[0].detail,
            after=ended,
        )
        assert (client_intent(held).upload_bps, client_intent(held).download_bps) == (
            UPLOAD_BPS,
            DOWNLOAD_BPS,
        )
        assert client.read() == expected

        # The actuator is killed, and the client loses Warden's limits meanwhile (a restart
        # of its own): the restarted actuator sets them again from the governor's renewal.
        services[2].kill(signal.SIGKILL)
        client.write(users)
        assert client.read() == users
        services[2] = Service("actuator", cfg, tmp_path)
        wait_until(lambda: client.read() == expected, what="the limits back")

        # The hold runs out: the user's own settings return, every one of them.
        wait_until(lambda: client.read() == users, timeout=60, what="the user's own")
        probe.wait_for(desired, lambda s: client_intent(s) is None, after=ended)
    finally:
        stop(services)
    assert client.read() == users
