"""Host events and schedules through real processes: a real process named like Unraid's mover
switches media mode on and off (real sensors reading /proc, a real governor), and a schedule
window that starts a minute from now pauses and resumes a tier-3 container on the real
Docker engine (a real governor and actuator; the test plays the inventory)."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from shared.messages import (
    ContainerFact,
    ContainerInventory,
    DesiredState,
    GovernorMemory,
    ProcessesFact,
)
from tests.support.broker import Mosquitto
from tests.support.docker_env import Containers
from tests.support.probe import Probe, Seen
from tests.support.processes import Service, wait_until, write_config

ZONE = "Europe/Berlin"


def desired(seen: Seen) -> DesiredState:
    return DesiredState.model_validate_json(seen.payload)


@pytest.fixture
def mover(tmp_path: Path) -> Iterator[Path]:
    """A binary named like Unraid's mover (a copy of sleep), for the test to start."""
    binary = tmp_path / "bin" / "mover"
    binary.parent.mkdir()
    shutil.copy(shutil.which("sleep") or "/bin/sleep", binary)
    yield binary


def test_a_real_mover_switches_media_mode_on_and_off(
    tmp_path: Path, broker: Mosquitto, probe: Probe, host_id: str, mover: Path
) -> None:
    cfg = write_config(
        tmp_path / "config.yaml",
        {
            "host_id": host_id,
            "mqtt": {"host": broker.host, "port": broker.port, "keepalive_seconds": 5},
            "general": {"poll_interval_seconds": 600},
            "sensors": {"heartbeat_seconds": 600, "condition_scan_seconds": 0.5},
            "media_mode": {"enabled": True, "provider": "webhook", "cooldown_seconds": 0},
            "conditions": [
                {
                    "name": "mover",
                    "process": {"name": ["mover"], "cmdline": ["^/usr/local/sbin/mover"]},
                    "media_mode": True,
                    "hold_seconds": 1,
                }
            ],
            "governor": {"lease_seconds": 10, "renew_seconds": 2},
        },
    )
    topic = f"warden/{host_id}/desired"
    services = [Service(n, cfg, tmp_path) for n in ("sensors", "governor")]
    process: subprocess.Popen[bytes] | None = None
    try:
        for name in ("sensors", "governor"):
            probe.wait_for(f"warden/{host_id}/{name}/availability", lambda s: s.text == "online")
        probe.wait_for(topic, lambda s: not desired(s).media_mode)

        started = time.monotonic()
        process = subprocess.Popen([str(mover), "600"])
        probe.wait_for(topic, lambda s: desired(s).media_mode, after=started)
        pid = process.pid
        fact = probe.wait_for(
            f"warden/{host_id}/sensors/processes",
            lambda s: ProcessesFact.model_validate_json(s.payload).conditions[0].running,
        )
        seen = ProcessesFact.model_validate_json(fact.payload).conditions[0].processes
        assert [(p.pid, p.name) for p in seen] == [(pid, "mover")]

        process.kill()
        process.wait()
        ended = time.monotonic()
        off = probe.wait_for(topic, lambda s: not desired(s).media_mode, after=ended)
        assert off.at - ended >= 1  # the hold ran first
    finally:
        if process is not None and process.poll() is None:
            process.kill()
        for service in services:
            service.kill(signal.SIGTERM)
    output = "".join(s.output() for s in services)
    assert "Traceback" not in output
    assert "condition.holds" in output and "condition.ended" in output
    # The event (and so the notification) says why.
    assert "forced by mover: process mover /^/usr/local/sbin/mover/, held 1s after" in output


def window_a_minute_ahead(zone: ZoneInfo) -> tuple[str, str, datetime]:
    """HH:MM of the next whole minute at least 20 s away, the one two minutes after, and the
    start as a time."""
    now = datetime.now(zone)
    start = (now + timedelta(minutes=1)).replace(second=0, microsecond=0)
    if (start - now).total_seconds() < 20:
        start += timedelta(minutes=1)
    end = start + timedelta(minutes=2)
    return start.strftime("%H:%M"), end.strftime("%H:%M"), start


def test_a_window_a_minute_ahead_pauses_then_resumes_a_tier3_container(
    tmp_path: Path, broker: Mosquitto, probe: Probe, containers: Containers, host_id: str
) -> None:
    zone = ZoneInfo(ZONE)
    start, end, starts_at = window_a_minute_ahead(zone)
    t3 = containers.run("t3")
    cfg = write_config(
        tmp_path / "config.yaml",
        {
            "host_id": host_id,
            "mqtt": {"host": broker.host, "port": broker.port},
            "tiers": {3: {"containers": [f"{containers.prefix}-t3*"]}},
            "schedules": [
                {
                    "name": "night",
                    "windows": [{"start": start, "end": end}],
                    "mode": "run_inside",
                    "tiers": [3],
                }
            ],
            "governor": {"lease_seconds": 10, "renew_seconds": 2, "timezone": ZONE},
            "actuator": {"state_file": str(tmp_path / "state.json"), "startup_grace_seconds": 1},
        },
    )
    inventory = ContainerInventory(
        host=host_id,
        cpu_count=2,
        containers=[ContainerFact(id=t3, name=containers.name("t3"), state="running", tier=3)],
    )
    services = [Service(n, cfg, tmp_path) for n in ("governor", "actuator")]
    topic = f"warden/{host_id}/desired"
    try:
        for name in ("governor", "actuator"):
            probe.wait_for(f"warden/{host_id}/{name}/availability", lambda s: s.text == "online")
        probe.publish(
            f"warden/{host_id}/sensors/containers", inventory.model_dump_json(), retain=True
        )
        # Outside the window: paused, the schedule its reason.
        paused = probe.wait_for(topic, lambda s: containers.name("t3") in desired(s).containers)
        reason = desired(paused).containers[containers.name("t3")].reasons[0]
        assert reason.rule == "schedule"
        assert reason.detail == (
            f"night: runs only inside its windows, next {starts_at.strftime('%a %H:%M')}"
        )
        wait_until(lambda: containers.state(t3) == "paused", what="paused outside the window")

        # The window starts: resumed, no sooner.
        resumed = probe.wait_for(
            topic, lambda s: containers.name("t3") not in desired(s).containers, timeout=120
        )
        assert desired(resumed).ts >= starts_at.timestamp() - 1
        wait_until(lambda: containers.state(t3) == "running", what="running inside the window")
    finally:
        for service in services:
            service.kill(signal.SIGTERM)
    assert "schedule.entered" in services[0].output()


def test_a_price_on_any_topic_pauses_tier3_and_garbage_changes_nothing(
    tmp_path: Path, broker: Mosquitto, probe: Probe, host_id: str
) -> None:
    """Home Assistant's mqtt_statestream publishes the price outside Warden's root; the
    governor reads it, validates it, and a payload that is no price leaves things as they are."""
    price = f"statestream-{host_id}/sensor/electricity_price/state"
    cfg = write_config(
        tmp_path / "config.yaml",
        {
            "host_id": host_id,
            "mqtt": {"host": broker.host, "port": broker.port},
            "tiers": {3: {"containers": ["tdarr"]}},
            "conditions": [
                {"name": "expensive", "mqtt": {"topic": price, "above": 0.3}, "pause_tier3": True}
            ],
            "governor": {"lease_seconds": 10, "renew_seconds": 2},
        },
    )
    inventory = ContainerInventory(
        host=host_id,
        cpu_count=2,
        containers=[ContainerFact(id="c0ffee", name="tdarr", state="running", tier=3)],
    )
    probe.publish(f"warden/{host_id}/sensors/containers", inventory.model_dump_json(), retain=True)
    topic = f"warden/{host_id}/desired"
    governor = Service("governor", cfg, tmp_path)
    try:
        probe.wait_for(f"warden/{host_id}/governor/availability", lambda s: s.text == "online")
        probe.wait_for(topic, lambda s: "tdarr" not in desired(s).containers)
        sent = time.monotonic()
        probe.publish(price, "0.42", retain=True)
        on = probe.wait_for(topic, lambda s: "tdarr" in desired(s).containers, after=sent)
        assert [str(r) for r in desired(on).containers["tdarr"].reasons] == [
            f"condition(expensive: {price} > 0.3)"
        ]
        # Not a number, not UTF-8, too long: unknown or dropped, never an end to the pause.
        for garbage in (b"unavailable", b"\xff\xfe", b"9" * 5000):
            probe.publish(price, garbage)
        probe.publish(price, "0.12")
        off = probe.wait_for(topic, lambda s: "tdarr" not in desired(s).containers, after=sent)
        between = [s for s in probe.messages(topic) if on.at <= s.at < off.at]
        assert all("tdarr" in desired(s).containers for s in between)
    finally:
        governor.kill(signal.SIGTERM)
        probe.publish(price, b"", retain=True)
    output = governor.output()
    assert "Traceback" not in output
    assert "bus.payload_dropped" in output  # the bytes that are no text, and the 5000


def test_home_assistants_schedule_switch_and_skip_reach_the_governor(
    tmp_path: Path, broker: Mosquitto, probe: Probe, host_id: str
) -> None:
    """What Home Assistant's switch and button send (their discovery payloads, as built)
    switches a schedule off and on and skips its window, kept in the governor's memory."""
    from services.notifier.home_assistant.discovery import build_entities
    from shared.config import load_config

    zone = ZoneInfo(ZONE)
    # A window that ends in a few hours: outside it now, so tier 3 is paused.
    later = datetime.now(zone) + timedelta(hours=3)
    window = {
        "start": later.strftime("%H:%M"),
        "end": (later + timedelta(hours=1)).strftime("%H:%M"),
    }
    cfg = write_config(
        tmp_path / "config.yaml",
        {
            "host_id": host_id,
            "mqtt": {"host": broker.host, "port": broker.port},
            "tiers": {3: {"containers": ["tdarr"]}},
            "schedules": [
                {"name": "night", "windows": [window], "mode": "run_inside", "tiers": [3]}
            ],
            "governor": {"lease_seconds": 10, "renew_seconds": 2, "timezone": ZONE},
        },
    )
    entities = build_entities(load_config(cfg).config, host_id, "test")
    switch, skip = entities["schedule_night"].config, entities["schedule_night_skip"].config
    inventory = ContainerInventory(
        host=host_id,
        cpu_count=2,
        containers=[ContainerFact(id="c0ffee", name="tdarr", state="running", tier=3)],
    )
    probe.publish(f"warden/{host_id}/sensors/containers", inventory.model_dump_json(), retain=True)
    topic, memory = f"warden/{host_id}/desired", f"warden/{host_id}/governor/memory"
    governor = Service("governor", cfg, tmp_path)
    try:
        probe.wait_for(topic, lambda s: "tdarr" in desired(s).containers)
        sent = time.monotonic()
        probe.publish(switch["command_topic"], switch["payload_off"])
        probe.wait_for(topic, lambda s: "tdarr" not in desired(s).containers, after=sent)
        off = probe.wait_for(memory, lambda s: '"schedules_off":["night"]' in s.text, after=sent)
        assert (
            GovernorMemory.model_validate_json(off.payload).status.schedules["night"].enabled
            is False
        )

        sent = time.monotonic()
        probe.publish(switch["command_topic"], switch["payload_on"])
        probe.wait_for(topic, lambda s: "tdarr" in desired(s).containers, after=sent)
        probe.publish(skip["command_topic"], skip["payload_press"])
        skipped = probe.wait_for(
            memory,
            lambda s: (
                GovernorMemory.model_validate_json(s.payload)
                .status.schedules["night"]
                .skipped_until
                is not None
            ),
            after=sent,
        )
        # The window ahead is skipped, until its end.
        night = GovernorMemory.model_validate_json(skipped.payload).status.schedules["night"]
        ends = later + timedelta(hours=1)
        assert night.skipped_until == ends.replace(second=0, microsecond=0).isoformat()
    finally:
        governor.kill(signal.SIGTERM)
    assert "Traceback" not in governor.output()
