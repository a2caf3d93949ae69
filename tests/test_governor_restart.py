"""A restarted governor loses nothing that matters: it picks up its own retained state."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from shared import channels
from shared.messages import DesiredState, GovernorMemory
from tests.support.broker import Mosquitto
from tests.support.docker_env import Containers
from tests.support.probe import Probe, Seen
from tests.support.processes import Service, wait_until, write_config


def desired(seen: Seen) -> DesiredState:
    return DesiredState.model_validate_json(seen.payload)


def test_a_killed_governor_comes_back_to_the_same_desired_state(
    tmp_path: Path, broker: Mosquitto, probe: Probe, containers: Containers, host_id: str
) -> None:
    t3 = containers.run("t3")
    cfg = write_config(
        tmp_path / "config.yaml",
        {
            "host_id": host_id,
            "mqtt": {"host": broker.host, "port": broker.port},
            "tiers": {3: {"containers": [containers.name("t3")]}},
            "media_mode": {"enabled": True, "provider": "webhook", "cooldown_seconds": 0},
            # The real sensors run: a burst of disk I/O from elsewhere on this shared
            # machine would fire the host's io trigger and add a throttle mid-test.
            "io_pressure": {"enabled": False},
            "governor": {"lease_seconds": 10, "renew_seconds": 1},
            "actuator": {"state_file": str(tmp_path / "state.json"), "startup_grace_seconds": 1},
        },
    )
    topic = f"warden/{host_id}/desired"
    sensors = Service("sensors", cfg, tmp_path)  # the inventory names what the rules target
    governor, actuator = Service("governor", cfg, tmp_path), Service("actuator", cfg, tmp_path)
    try:
        probe.wait_for(f"warden/{host_id}/governor/availability", lambda s: s.text == "online")
        probe.publish(f"warden/{host_id}/trigger", "media_start")
        before = desired(probe.wait_for(topic, lambda s: desired(s).media_mode))
        wait_until(lambda: containers.state(t3) == "paused", what="paused by media mode")

        killed_at = time.monotonic()
        governor.kill(signal.SIGKILL)
        governor = Service("governor", cfg, tmp_path)
        after = desired(probe.wait_for(topic, lambda s: not s.retained, after=killed_at))
        # Its first word is where it left off: the forced media mode, under a later seq.
        assert after.media_mode and after.seq > before.seq
        memory = GovernorMemory.model_validate_json(
            probe.wait_for(f"warden/{host_id}/governor/memory", after=killed_at).payload
        )
        assert memory.switches.media_forced and memory.status.media_mode
        assert after.containers == before.containers
        assert "state.restored" in governor.output()
        wait_until(lambda: containers.state(t3) == "paused", what="paused again")
    finally:
        for service in (governor, actuator, sensors):
            service.kill(signal.SIGTERM)


def test_a_trigger_that_beats_the_retained_state_is_not_lost(tmp_path: Path) -> None:
    from services.governor.memory_store import decode_retained_desired
    from services.governor.service import GovernorService
    from shared.bus import Received
    from shared.messages import Switches, Trigger
    from tests.support.in_process import context

    cfg_path = write_config(
        tmp_path / "config.yaml",
        {"host_id": "h", "media_mode": {"enabled": True, "provider": "webhook"}},
    )
    # A bus never started: what it would publish is queued, nothing leaves this test.
    ctx = context("governor", cfg_path)
    topics = ctx.topics
    governor = GovernorService(ctx)

    governor.on_trigger(
        Received(channels.TRIGGER.topic_for(topics), Trigger(event="media_start"), False)
    )
    kept = GovernorMemory(host="h", seq=7, switches=Switches(tier3_manual_pause=True))
    governor.on_own_memory(Received(channels.GOVERNOR_MEMORY.topic_for(topics), kept, True))
    old = DesiredState(host="h", seq=7, lease_seconds=30)
    governor.on_own_desired(
        Received(
            channels.DESIRED.topic_for(topics),
            decode_retained_desired(old.model_dump_json().encode()),
            True,
        )
    )

    assert governor.ready and governor.outbox.seq >= 7
    # Both survive: what was remembered, and what was asked for meanwhile.
    assert governor.memory.switches.tier3_manual_pause and governor.memory.switches.media_forced
