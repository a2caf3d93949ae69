"""An incident told outward, through a real notifier process on a real broker: Home
Assistant's device trigger fires when one opens (not when it closes), and the notification
kind `incident` is off by default (ADRG's notify_on) and sent, opened and closed, when
notify_on names it."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

from shared.messages import Event
from tests.support.broker import Mosquitto
from tests.support.probe import Probe
from tests.support.processes import Service, write_config


def told(host: str, phase: str, message: str) -> str:
    return Event(
        host=host,
        kind="incident",
        source="governor",
        message=message,
        severity="warning" if phase == "opened" else "info",
        details={"incident": "stall-io-1", "phase": phase},
    ).model_dump_json()


def test_an_incident_fires_the_trigger_when_it_opens_and_notifies_only_when_asked(
    tmp_path: Path, broker: Mosquitto, probe: Probe, host_id: str
) -> None:
    base = f"warden/{host_id}"
    for notify_on in (None, ["incident"]):
        notifications: dict[str, object] = {"outbox_file": str(tmp_path / "outbox.json")}
        if notify_on is not None:
            notifications["notify_on"] = [*notify_on, "media_mode_activated"]
        cfg = write_config(
            tmp_path / "config.yaml",
            {
                "host_id": host_id,
                "mqtt": {"host": broker.host, "port": broker.port},
                "notifications": notifications,
            },
        )
        notifier = Service("notifier", cfg, tmp_path)
        try:
            started = time.monotonic()
            probe.wait_for(
                f"{base}/notifier/availability", lambda s: s.text == "online", after=started
            )
            # The discovery configs out: the notifier listens by then.
            probe.wait_for(
                f"homeassistant/sensor/warden_{host_id.replace('-', '_')}/last_incident/config",
                after=started,
            )
            probe.publish(f"{base}/events", told(host_id, "opened", "since 21:40: ..."))
            probe.publish(f"{base}/events", told(host_id, "closed", "21:40-21:41: ..."))
            # Then one ADRG's notify_on sends: once it is told, the two before it are done.
            marker = Event(
                host=host_id, kind="media_mode_activated", source="governor", message="marker"
            )
            probe.publish(f"{base}/events", marker.model_dump_json())
            probe.wait_for(f"{base}/ha/notify", lambda s: b"marker" in s.payload, after=started)
            fired = [s for s in probe.messages(f"{base}/ha/event/incident") if s.at >= started]
            assert [Event.model_validate_json(s.payload).details["phase"] for s in fired] == [
                "opened"
            ]
            notes = [
                json.loads(s.payload)
                for s in probe.messages(f"{base}/ha/notify")
                if s.at >= started and json.loads(s.payload)["kind"] == "incident"
            ]
            if notify_on is None:
                assert notes == []
            else:
                assert [n["message"] for n in notes] == ["since 21:40: ...", "21:40-21:41: ..."]
                assert notes[0]["title"] == f"Warden ({host_id}): Incident"
        finally:
            notifier.kill(signal.SIGTERM)
