"""The web service over HTTP on the real bus: ADRG's /trigger pauses a real container
through the real governor and actuator, and ADRG's /status says so."""

from __future__ import annotations

import socket
from pathlib import Path

from tests.support.broker import Mosquitto, free_port
from tests.support.docker_env import Containers
from tests.support.probe import Probe
from tests.support.processes import wait_until
from tests.support.web import ADMIN, running, stack_config, whole_stack


def test_trigger_over_http_pauses_tier3_and_status_shows_why(
    tmp_path: Path, broker: Mosquitto, probe: Probe, containers: Containers, host_id: str
) -> None:
    t3, db = containers.run("t3"), containers.run("db")
    with whole_stack(tmp_path, broker, probe, containers, host_id) as stack:
        http, t3_name = stack.http, containers.name("t3")
        # ADRG's bodies: JSON with its content type, and JSON sent as curl -d sends it.
        answer = http.post("/trigger", json={"event": "tier3_pause"})
        assert answer.status_code == 200, answer.text
        assert answer.json()["queued"] == "tier3_pause"
        wait_until(lambda: containers.state(t3) == "paused", what="tier 3 paused by /trigger")
        assert containers.state(db) == "running"

        def shown() -> bool:
            entry = http.get("/status").json()["containers"][t3_name]
            return entry["paused"] is True and entry["paused_by"] == ["webhook_manual"]

        wait_until(shown, what="/status shows the pause and its reason")
        status = http.get("/status").json()
        adrg = (
            "version",
            "uptime_seconds",
            "dry_run",
            "media_mode_active",
            "media_provider",
            "thermal_stage",
            "memory_throttled",
            "io_throttled",
            "protected_containers",
            "note_tier0_auto_protected",
            "containers",
        )
        assert all(key in status for key in adrg)
        entry = status["containers"][t3_name]
        keys = ("tier", "paused_by", "cpu_max_by", "io_max_by", "memory_high_override_bytes")
        assert {k: entry[k] for k in keys} == {
            "tier": 3,
            "paused_by": ["webhook_manual"],  # ADRG's name for a tier3_pause
            "cpu_max_by": [],
            "io_max_by": [],
            "memory_high_override_bytes": None,
        }
        assert entry["reasons"] == ["manual_pause(tier3_pause trigger)"]  # Warden's own
        assert status["containers"][containers.name("db")]["tier"] == 1
        assert status["dry_run"] is False and status["tier3_manual_pause"] is True

        # /metrics: the pause as applied, the decision, and how long the trigger took.
        def metric(name: str) -> float:
            text = http.get("/metrics").text
            lines = [x for x in text.splitlines() if x.startswith(name)]
            return float(lines[0].rsplit(" ", 1)[1]) if lines else -1.0

        paused = f'warden_container_paused{{container="{t3_name}",tier="3"}}'
        wait_until(lambda: metric(paused) == 1.0, what="/metrics shows the pause")
        assert metric('warden_decisions_total{action="enforce"}') >= 1
        assert metric('warden_triggers_total{event="tier3_pause"}') == 1
        wait_until(lambda: metric("warden_trigger_to_applied_seconds_count") >= 1)
        assert 0 < metric("warden_trigger_to_applied_seconds_sum") < 10

        # Unknown events are refused by name, never a 5xx, and nothing goes on the bus.
        trigger = f"warden/{host_id}/trigger"
        sent = len(probe.messages(trigger))
        for body in ('{"event": "reboot"}', "reboot", "", "[1]", '{"event": 3}', "\xff"):
            refused = http.post("/trigger", content=body.encode("utf-8", "surrogateescape"))
            assert refused.status_code == 400, (body, refused.text)
            assert "tier3_pause" in refused.json()["error"], refused.text
            assert refused.json()["valid_events"] == [
                "media_start",
                "media_stop",
                "tier3_pause",
                "tier3_resume",
                "schedule_on",
                "schedule_off",
                "schedule_skip",
                "schedule_unskip",
            ]

        answer = http.post(
            "/trigger",
            content=b'{"event": "tier3_resume"}',
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert answer.status_code == 200
        # The resume goes out on the web service's one connection after any refused event
        # would have: once the probe has it, the refused ones had their chance.
        resumed = probe.wait_for(trigger, lambda s: "tier3_resume" in s.text)
        assert probe.messages(trigger)[sent:] == [resumed]
        wait_until(lambda: containers.state(t3) == "running", what="resumed by /trigger")
        log = stack.services["web"].output()
        assert "trigger.sent" in log and "http.listening" in log
        assert ADMIN not in log


def test_http_server_enabled_false_listens_nowhere(
    tmp_path: Path, broker: Mosquitto, probe: Probe, containers: Containers, host_id: str
) -> None:
    port = free_port()
    cfg = stack_config(tmp_path, broker, host_id, containers, port)
    text = cfg.read_text().replace("host: 127.0.0.1\n    port:", "enabled: false\n    port:")
    cfg.write_text(text)
    with running(cfg, tmp_path, probe, host_id, "web") as services:
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) != 0
        assert "http.disabled" in services["web"].output()
