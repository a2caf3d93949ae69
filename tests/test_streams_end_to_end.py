"""Media streams through real processes: a fake Jellyfin, the sensors, the governor, Mosquitto.

A Jellyfin webhook turns media mode on at once; the stream ending turns it
off after the cooldown; a Jellyfin that goes down leaves media mode on
(unknown is not zero) until it answers again. And the governor alone: a
streams fact kept for an hour by the broker cannot start media mode, and one
from a sensor that fell silent holds it as unknown. And the sensors alone:
payloads real servers sent (tests/support/published.py) reach the bus
classified as the servers' own dashboards show them.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml

from shared.messages import (
    ContainerFact,
    ContainerInventory,
    DesiredState,
    Event,
    StreamsFact,
)
from tests.support import published
from tests.support.broker import Mosquitto, free_port
from tests.support.media_servers import FakeMediaServer, jellyfin_session
from tests.support.probe import Probe, Seen
from tests.support.processes import Service, write_config
from tests.support.webhook_bodies import jellyfin_body

TOKEN = "hook-s3cret"
COOLDOWN = 1


@pytest.fixture
def jellyfin() -> Iterator[FakeMediaServer]:
    fake = FakeMediaServer()
    yield fake
    fake.close()


def config(tmp_path: Path, broker: Mosquitto, host_id: str, url: str, poll: float) -> Path:
    return write_config(
        tmp_path / "config.yaml",
        {
            "host_id": host_id,
            "mqtt": {"host": broker.host, "port": broker.port, "keepalive_seconds": 5},
            # Pressure and the inventory are not what this test is about.
            "general": {"poll_interval_seconds": 600},
            "sensors": {"heartbeat_seconds": 600},
            "media_mode": {
                "enabled": True,
                "provider": "jellyfin",
                "url": url,
                "api_key": "jf-key",
                "cooldown_seconds": COOLDOWN,
                "poll_seconds": poll,
                "timeout_seconds": 2,
                "webhook": {"enabled": True, "port": free_port(), "token": TOKEN},
            },
            "governor": {"lease_seconds": 4, "renew_seconds": 1},
        },
    )


def media_mode(seen: Seen) -> bool:
    return DesiredState.model_validate_json(seen.payload).media_mode


def streams(seen: Seen) -> StreamsFact:
    return StreamsFact.model_validate_json(seen.payload)


class Stack:
    def __init__(self, tmp_path: Path, cfg: Path, probe: Probe, host_id: str) -> None:
        port = yaml.safe_load(cfg.read_text())["media_mode"]["webhook"]["port"]
        self.hook = f"http://127.0.0.1:{port}/webhook/jellyfin/{TOKEN}"
        self.services = [Service(n, cfg, tmp_path) for n in ("sensors", "governor")]
        self.desired = f"warden/{host_id}/desired"
        self.streams = f"warden/{host_id}/sensors/streams"
        self.events = f"warden/{host_id}/events"
        for name in ("sensors", "governor"):
            probe.wait_for(f"warden/{host_id}/{name}/availability", lambda s: s.text == "online")

    def webhook(self, kind: str) -> None:
        body = jellyfin_body(kind, DeviceId="dev-tv")
        assert requests.post(self.hook, json=body, timeout=5).status_code == 202

    def stop(self) -> None:
        for service in self.services:
            service.kill(signal.SIGTERM)
        for service in self.services:
            assert "Traceback" not in service.output(), service.output()


def test_a_webhook_starts_media_mode_and_the_stream_ending_stops_it(
    tmp_path: Path, broker: Mosquitto, probe: Probe, host_id: str, jellyfin: FakeMediaServer
) -> None:
    jellyfin.answer([])
    # A 10-minute poll: only the webhook can bring the news in time.
    stack = Stack(tmp_path, config(tmp_path, broker, host_id, jellyfin.url, 600), probe, host_id)
    try:
        probe.wait_for(stack.streams, lambda s: streams(s).count == 0)
        probe.wait_for(stack.desired, lambda s: not media_mode(s))

        jellyfin.answer([jellyfin_session("dev-tv", method="Transcode", address="203.0.113.9")])
        started = time.monotonic()
        stack.webhook("PlaybackStart")
        fact = streams(
            probe.wait_for(stack.streams, lambda s: streams(s).count == 1, after=started)
        )
        assert fact.source == "jellyfin api" and fact.sessions[0].transcode
        probe.wait_for(stack.desired, media_mode, after=started)
        activated = probe.wait_for(
            stack.events,
            lambda s: Event.model_validate_json(s.payload).kind == "media_mode_activated",
            after=started,
        )
        assert "1 active stream(s)" in Event.model_validate_json(activated.payload).message
        assert jellyfin.requests[-1].headers["Authorization"] == 'MediaBrowser Token="jf-key"'

        jellyfin.answer([])
        stopped = time.monotonic()
        stack.webhook("PlaybackStop")
        probe.wait_for(stack.streams, lambda s: streams(s).count == 0, after=stopped)
        off = probe.wait_for(stack.desired, lambda s: not media_mode(s), after=stopped)
        # The cooldown ran in between: media mode was still on right after the stop.
        assert any(
            media_mode(s) and stopped <= s.at < off.at for s in probe.messages(stack.desired)
        )
        probe.wait_for(
            stack.events,
            lambda s: Event.model_validate_json(s.payload).kind == "media_mode_deactivated",
            after=stopped,
        )
    finally:
        stack.stop()


def test_a_server_that_goes_down_leaves_media_mode_on(
    tmp_path: Path, broker: Mosquitto, probe: Probe, host_id: str, jellyfin: FakeMediaServer
) -> None:
    jellyfin.answer([jellyfin_session("dev-tv")])
    port = jellyfin.port
    stack = Stack(tmp_path, config(tmp_path, broker, host_id, jellyfin.url, 1), probe, host_id)
    try:
        probe.wait_for(stack.desired, media_mode)

        jellyfin.close()
        down = probe.wait_for(stack.streams, lambda s: streams(s).count is None)
        assert "cannot reach" in (streams(down).error or "")
        # Several cooldowns and stale-after periods (3 polls) later, it is still on.
        probe.wait_for(stack.desired, lambda s: s.at > down.at + 6 * COOLDOWN + 3, timeout=30)
        after_down = [s for s in probe.messages(stack.desired) if s.at >= down.at]
        assert len(after_down) >= 3 and all(media_mode(s) for s in after_down)

        back = FakeMediaServer(port)
        try:
            back.answer([])
            up = probe.wait_for(stack.streams, lambda s: streams(s).count == 0, after=down.at)
            probe.wait_for(stack.desired, lambda s: not media_mode(s), after=up.at)
        finally:
            back.close()
    finally:
        stack.stop()


def test_the_governor_treats_old_and_silent_streams_facts_as_unknown(
    tmp_path: Path, broker: Mosquitto, probe: Probe, host_id: str
) -> None:
    cfg = write_config(
        tmp_path / "config.yaml",
        {
            "host_id": host_id,
            "mqtt": {"host": broker.host, "port": broker.port, "keepalive_seconds": 5},
            "media_mode": {
                "enabled": True,
                "provider": "plex",
                "url": "http://127.0.0.1:9",
                "cooldown_seconds": COOLDOWN,
            },
            "governor": {"lease_seconds": 4, "renew_seconds": 1, "stale_after_seconds": 2},
            "tiers": {3: {"containers": ["tdarr"]}},
        },
    )
    topic, desired = f"warden/{host_id}/sensors/streams", f"warden/{host_id}/desired"
    # A tier 3 container, so the desired state carries media mode's reason.
    inventory = ContainerInventory(
        host=host_id,
        cpu_count=4,
        containers=[ContainerFact(id="c0ffee", name="tdarr", state="running", tier=3)],
    )
    probe.publish(f"warden/{host_id}/sensors/containers", inventory.model_dump_json(), retain=True)

    def reason(seen: Seen) -> str:
        state = DesiredState.model_validate_json(seen.payload)
        return str(state.containers["tdarr"].reasons[0]) if "tdarr" in state.containers else ""

    def fact(count: int | None, ts: float | None = None) -> str:
        return StreamsFact(
            host=host_id, source="plex api", provider="plex", count=count, ts=ts or time.time()
        ).model_dump_json()

    # An hour-old reading kept by the broker must not start media mode.
    probe.publish(topic, fact(2, time.time() - 3600), retain=True)
    governor = Service("governor", cfg, tmp_path)
    try:
        first = probe.wait_for(desired)
        assert not media_mode(first)
        assert "streams.received count=2" in governor.output()

        live = time.monotonic()
        probe.publish(topic, fact(1), retain=True)
        on = probe.wait_for(desired, media_mode, after=live)
        assert reason(on) == "media_mode(1 active stream(s))"

        # Then the sensor falls silent: the count goes stale, and media mode holds on it.
        stale = probe.wait_for(desired, lambda s: "streams unknown" in reason(s), after=on.at)
        probe.wait_for(desired, lambda s: s.at > stale.at + 4 * COOLDOWN)
        held = [s for s in probe.messages(desired) if s.at >= stale.at]
        assert all(media_mode(s) and "streams unknown" in reason(s) for s in held)

        ended = time.monotonic()
        probe.publish(topic, fact(0), retain=True)
        probe.wait_for(desired, lambda s: not media_mode(s), after=ended)
    finally:
        governor.kill(signal.SIGTERM)
        probe.publish(topic, b"", retain=True)
        probe.publish(f"warden/{host_id}/sensors/containers", b"", retain=True)
    assert "Traceback" not in governor.output()


# --- published payloads through the real sensors --------------------------------------


@pytest.mark.parametrize(
    ("provider", "fixture", "sessions"),
    [
        # Home Assistant's Jellyfin sessions: a paused remux, a playing remux (PlayMethod
        # Transcode, both streams direct) and an MP3 on the LAN. Only the playing remux
        # counts, as a direct stream; Warden used to count it as a transcode and the song too.
        (
            "jellyfin",
            "jellyfin_sessions_home_assistant.json",
            {
                "DEVICE-UUID": ("paused", False, "video", None, False),
                "DEVICE-UUID-TWO": ("playing", False, "video", None, False),
                "DEVICE-UUID-FOUR": ("playing", False, "audio", 256, False),
            },
        ),
        # Home Assistant's Plex session: video copied, audio transcoded, no TranscodeSession.
        (
            "plex",
            "plex_session_base_home_assistant.json",
            {"1234567890123456-com-plexapp-android": ("playing", True, "video", 7000, False)},
        ),
    ],
)
def test_a_published_payload_reaches_the_bus_as_the_server_meant_it(
    tmp_path: Path,
    broker: Mosquitto,
    probe: Probe,
    host_id: str,
    jellyfin: FakeMediaServer,
    provider: str,
    fixture: str,
    sessions: dict[str, tuple[str, bool, str, int | None, bool]],
) -> None:
    # The fake answers whatever it is given: here, as `provider` answered.
    server = jellyfin
    server.answer(published.raw(fixture))
    cfg = config(tmp_path, broker, host_id, server.url, 600)
    settings = yaml.safe_load(cfg.read_text())
    settings["media_mode"]["provider"] = provider
    write_config(cfg, settings)
    sensors = Service("sensors", cfg, tmp_path)
    try:
        seen = probe.wait_for(f"warden/{host_id}/sensors/streams", lambda s: True)
        fact = streams(seen)
        assert (fact.source, fact.count, fact.error) == (f"{provider} api", 1, None)
        assert {
            s.id: (s.state, s.transcode, s.media_type, s.bitrate_kbps, s.hw_transcode)
            for s in fact.sessions
        } == sessions
        assert server.requests[-1].path in ("/Sessions", "/status/sessions")
    finally:
        sensors.kill(signal.SIGTERM)
        probe.publish(f"warden/{host_id}/sensors/streams", b"", retain=True)
    assert "Traceback" not in sensors.output()
