"""The notifier process on a real Mosquitto, against local HTTP servers: bursts collapse,
a failing channel is reported once, and what was not delivered survives a restart."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.notifier.outbox import OutboxFile
from shared.messages import Event
from tests.support.broker import Mosquitto
from tests.support.http_capture import Reply, Scripted
from tests.support.probe import Probe
from tests.support.processes import Service, wait_until, write_config


@pytest.fixture
def server() -> Iterator[Scripted]:
    s = Scripted()
    yield s
    s.close()


def notifier_config(tmp_path: Path, broker: Mosquitto, host_id: str, url: str) -> Path:
    return write_config(
        tmp_path / "config.yaml",
        {
            "host_id": host_id,
            "mqtt": {"host": broker.host, "port": broker.port},
            "notifications": {
                "notify_on": [],  # every event, this one's own failure report included
                "ntfy_url": f"{url}/ntfy",
                "discord_webhook_url": f"{url}/discord",
                "outbox_file": str(tmp_path / "outbox.json"),
                "retry_initial_seconds": 0.2,
                "retry_max_seconds": 0.5,
                "retry_max_attempts": 1000,
                "dedup_window_seconds": 2,
                "timeout_seconds": 2,
            },
        },
    )


def test_bursts_failures_and_restart(
    tmp_path: Path, broker: Mosquitto, probe: Probe, host_id: str, server: Scripted
) -> None:
    server.by_path["/discord"] = Reply(500)  # Discord is down, ntfy is up
    config = notifier_config(tmp_path, broker, host_id, server.url)
    notifier = Service("notifier", config, tmp_path)
    try:
        probe.wait_for(f"warden/{host_id}/notifier/availability", lambda s: s.text == "online")
        for _ in range(30):  # media mode flapping
            flap = Event(
                host=host_id, kind="media_mode_activated", source="governor", message="Stream"
            )
            probe.publish(f"warden/{host_id}/events", flap.model_dump_json())

        def ntfy_bodies() -> list[str]:
            return [h.body.decode() for h in server.delivered() if h.path == "/ntfy"]

        wait_until(lambda: any("repeated" in b for b in ntfy_bodies()), what="the summary")
        flaps = [b for b in ntfy_bodies() if b.startswith("Stream")]
        assert flaps == ["Stream", "Stream (repeated 29 times in 2 s)"]

        # Discord failing: said once, on the bus and through the channels that work.
        failed = probe.wait_for(
            f"warden/{host_id}/events",
            lambda s: Event.model_validate_json(s.payload).kind == "notifier_channel_failed",
        )
        report = Event.model_validate_json(failed.payload)
        assert report.source == "notifier" and report.details["channel"] == "discord"
        assert "HTTP 500" in report.message
        wait_until(lambda: any("discord are failing" in b for b in ntfy_bodies()), what="told")
        told = [json.loads(s.payload) for s in probe.messages(f"warden/{host_id}/ha/notify")]
        assert [t["message"] for t in told if t["kind"] == "media_mode_activated"] == [
            "Stream",
            "Stream (repeated 29 times in 2 s)",
        ]
        wait_until(
            lambda: len([h for h in server.hits if h.path == "/discord"]) >= 3,
            what="discord retried",
        )
        kinds = [
            Event.model_validate_json(s.payload).kind
            for s in probe.messages(f"warden/{host_id}/events")
        ]
        assert kinds.count("notifier_channel_failed") == 1  # once, not once per retry
    finally:
        assert notifier.stop() == 0

    # Stopped with Discord still down: its messages wait in the file.
    stored = OutboxFile.model_validate_json((tmp_path / "outbox.json").read_text())
    waiting = sorted(e.note.body for e in stored.entries if e.channel == "discord")
    assert waiting == ["Stream", "Stream (repeated 29 times in 2 s)"]

    server.by_path["/discord"] = Reply(200)
    notifier = Service("notifier", config, tmp_path)
    try:
        wait_until(
            lambda: (
                sorted(
                    h.body.decode()
                    for h in server.delivered()
                    if h.path == "/discord" and b"Stream" in h.body
                )
                != []
            ),
            what="discord delivered after the restart",
        )
        wait_until(
            lambda: (
                OutboxFile.model_validate_json((tmp_path / "outbox.json").read_text()).entries == []
            ),
            what="outbox emptied",
        )
        descriptions = [
            json.loads(h.body)["embeds"][0]["description"]
            for h in server.delivered()
            if h.path == "/discord"
        ]
        assert descriptions == ["Stream", "Stream (repeated 29 times in 2 s)"]
    finally:
        notifier.kill(signal.SIGTERM)
    assert "Traceback" not in notifier.output(), notifier.output()
