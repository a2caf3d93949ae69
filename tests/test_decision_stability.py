"""The desired state and the decision log change only when what is enforced changes: a moving
reading, or a countdown, is kept in the decision's readings and the debug log."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from services.governor.policy import Facts, decide
from shared.messages import (
    ContainerFact,
    ContainerInventory,
    DesiredState,
    LastDecision,
    PressureFact,
    PressureLine,
    ResourcePressure,
)
from tests.support.broker import Mosquitto
from tests.support.household import CFG, MATCHER, inventory
from tests.support.probe import Probe
from tests.support.processes import Service, write_config
from tests.support.views import remembered, switched

IO_REASON = "io_pressure(io.some_avg10 > 60, lifted after 30s below 20)"


def io_fact(avg10: float, host: str = "h") -> PressureFact:
    line = PressureLine(avg10=avg10, avg60=0, avg300=0, total=1)
    return PressureFact(host=host, io=ResourcePressure(some=line))


def test_moving_readings_and_countdowns_leave_the_intents_as_they_are() -> None:
    memory, seen = remembered(media_forced=True), []
    for now, avg10 in ((0, 64.08), (2, 71.5), (4, 88.0)):
        facts = Facts(pressure=io_fact(avg10), pressure_seen_at=now, inventory=inventory())
        decision = decide(CFG, MATCHER, facts, memory, now)
        memory = decision.memory
        seen.append(decision)
    assert seen[0].containers == seen[1].containers == seen[2].containers
    assert str(seen[0].containers["tdarr"].reasons[-1]) == IO_REASON
    assert "io.some_avg10=88.0" in seen[2].readings["tdarr"]
    # The media-mode cooldown counts down in the readings, not in the reason.
    memory = switched(memory, media_forced=False)
    cooling = []
    for now in (10, 30, 50):
        decision = decide(CFG, MATCHER, Facts(inventory=inventory()), memory, now)
        memory = decision.memory
        cooling.append(decision)
    assert cooling[0].containers == cooling[1].containers == cooling[2].containers
    assert cooling[0].readings["media_mode"] != cooling[1].readings["media_mode"]


def test_a_reading_hovering_at_the_threshold_leaves_the_intents_as_they_are() -> None:
    """Crossing the trigger threshold back and forth, or the recovery one, while throttled."""
    memory, seen = remembered(), []
    for now, avg10 in enumerate((61.0, 59.5, 62.0, 58.0, 19.0, 21.0, 19.5, 60.5)):
        facts = Facts(pressure=io_fact(avg10), pressure_seen_at=now, inventory=inventory())
        decision = decide(CFG, MATCHER, facts, memory, now)
        memory = decision.memory
        seen.append(decision.containers["tdarr"])
    assert all(intent == seen[0] for intent in seen)
    assert [str(r) for r in seen[0].reasons] == [IO_REASON]


def test_many_readings_one_publish_one_log_line(
    tmp_path: Path, broker: Mosquitto, probe: Probe, host_id: str
) -> None:
    cfg = write_config(
        tmp_path / "config.yaml",
        {
            "host_id": host_id,
            "mqtt": {"host": broker.host, "port": broker.port},
            "tiers": {3: {"containers": ["tdarr"]}},
            # Renewals far apart, so every publish in the test is a decision's.
            "governor": {"lease_seconds": 60},
        },
    )
    governor = Service("governor", cfg, tmp_path)
    try:
        probe.wait_for(f"warden/{host_id}/governor/availability", lambda s: s.text == "online")
        fact = ContainerInventory(
            host=host_id,
            cpu_count=2,
            containers=[ContainerFact(id="t", name="tdarr", state="running", tier=3)],
        )
        sent_at = time.monotonic()
        probe.publish(f"warden/{host_id}/sensors/containers", fact.model_dump_json())
        # Its restore wait over, its first desired state knows tdarr (and nothing of it).
        probe.wait_for(
            f"warden/{host_id}/desired",
            lambda s: not DesiredState.model_validate_json(s.payload).containers,
            after=sent_at,
        )
        start = time.monotonic()
        for avg10 in (61.2, 64.08, 70.3, 75.9, 80.0, 77.7, 69.1, 63.5):
            probe.publish(
                f"warden/{host_id}/sensors/pressure", io_fact(avg10, host_id).model_dump_json()
            )
            time.sleep(0.1)
        probe.wait_for(
            f"warden/{host_id}/governor/decision",
            lambda s: LastDecision.model_validate_json(s.payload).action == "enforce",
            after=start,
        )
        # A last word that surely changes the decision: the governor handles the probe's
        # messages in order and publishes in order, so whatever the readings made it
        # publish has arrived before the answer to this.
        probe.publish(f"warden/{host_id}/trigger", "tier3_pause")
        marker = probe.wait_for(
            f"warden/{host_id}/desired",
            lambda s: DesiredState.model_validate_json(s.payload).containers["tdarr"].paused,
            after=start,
        )
        desired = [
            DesiredState.model_validate_json(s.payload)
            for s in probe.messages(f"warden/{host_id}/desired")
            if start <= s.at < marker.at
        ]
        assert len(desired) == 1 and "tdarr" in desired[0].containers
        topic = f"warden/{host_id}/governor/decision"
        decisions = [
            LastDecision.model_validate_json(s.payload)
            for s in probe.messages(topic)
            if s.at >= start
        ]
        # The readings' one decision, then the marker's (the pause beside the io limit).
        assert [d.reasons for d in decisions][:1] == [[IO_REASON]]
        assert len([d for d in decisions if d.reasons == [IO_REASON]]) == 1
        assert "io.some_avg10=61.2" in decisions[0].readings["tdarr"]
        enforced = [line for line in governor.output().splitlines() if "decision.enforce" in line]
        assert len([line for line in enforced if "paused=false" in line]) == 1
    finally:
        governor.kill(signal.SIGTERM)
