"""The governor's memory on its own retained topic, and the upgrade from the desired state."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

from pydantic import JsonValue

from services.governor.memory_store import LegacyMemory, from_legacy, from_message, to_message
from services.governor.policy import RULES, Memory
from services.governor.rules.bandwidth import BandwidthMemory, Reservation
from services.governor.rules.conditions import ConditionsMemory, ConditionState
from services.governor.rules.gpu_share import GpuShareMemory
from services.governor.rules.io_pressure import IoMemory
from services.governor.rules.media_mode import MediaMemory
from services.governor.rules.memory_pressure import MemoryPressureMemory
from services.governor.rules.process_groups import GroupsMemory, ProcessGroupMemory
from services.governor.rules.protect import ProtectMemory, ProtectState, ProtectThrottle
from services.governor.rules.schedules import ScheduleMemory
from services.governor.rules.thermal import ThermalMemory
from services.governor.yielding import YieldState
from shared.messages import DesiredState, GovernorMemory, GovernorStatus, Switches
from shared.signing import Keyring, load_keyring, sign
from tests.support.broker import Mosquitto
from tests.support.keys import write_key
from tests.support.probe import Probe
from tests.support.processes import Service, wait_until, write_config

# Every field of the flat memory a governor before the memory topic kept, none at its default.
OLD_FLAT: dict[str, JsonValue] = {
    "media_forced": True,
    "tier3_manual_pause": True,
    "media_active": True,
    "media_cooldown_since": 1000.0,
    "squeeze_floor": {"tdarr": 2_000_000_000},
    "preset": "aggressive",
    "process_groups": {"enc": {"paused": True, "tripped": ["others_cpu_percent"]}},
    "thermal_stage": 2,
    "thermal_recovery_since": 1100.0,
    "thermal_warned": True,
    "io_throttled": True,
    "io_recovery_since": 1200.0,
    "restarted_at": {"kopia": 900.0},
    "protect": {"io": {"stalled_at": 5.0, "throttles": {"tdarr": {"limit": 1e6, "steps": 2}}}},
}
EVERY_SLICE = {
    "media_mode": MediaMemory(active=True, cooldown_since=1000.0),
    "memory_pressure": MemoryPressureMemory(
        squeeze_floor={"tdarr": 2_000_000_000}, restarted_at={"kopia": 900.0}
    ),
    "thermal": ThermalMemory(stage=2, recovery_since=1100.0, warned=True),
    "io_pressure": IoMemory(throttled=True, recovery_since=1200.0),
    "protect": ProtectState(
        resources={
            "io": ProtectMemory(
                stalled_at=5.0, throttles={"tdarr": ProtectThrottle(limit=1e6, steps=2)}
            )
        }
    ),
    "process_groups": GroupsMemory(
        groups={"enc": ProcessGroupMemory(paused=True, tripped=["others_cpu_percent"])}
    ),
}
# Rules newer than the memory topic: no old flat memory has their fields.
NEWER_SLICES = {
    "cpu_yield": YieldState(yielding=True, quiet_since=1300.0),
    "io_yield": YieldState(yielding=True, disks=["8:16", "254:0"]),
    "conditions": ConditionsMemory(
        conditions={"mover": ConditionState(holds=True, cleared_at=1400.0)}
    ),
    "schedules": ScheduleMemory(inside=["night"]),
    "bandwidth": BandwidthMemory(
        streams={"s1": Reservation(kbps=4000, media_type="video", ended_at=1500.0)}
    ),
    "gpu_share": GpuShareMemory(
        seen_at=1400.0, paused=True, containers=["tdarr"], groups=["enc"], about="GPU 0"
    ),
}
SWITCHES = Switches(media_forced=True, tier3_manual_pause=True, preset="aggressive")
# And the switches newer than the memory topic.
EVERY_SWITCH = SWITCHES.model_copy(
    update={"schedules_off": ["night"], "schedule_skips": {"day": 1600.0}}
)


def legacy_desired(host: str, governor: dict[str, JsonValue], seq: int = 41) -> dict[str, Any]:
    """A retained desired state as a governor before the memory topic wrote it."""
    return {
        "schema_version": 1,
        "host": host,
        "ts": 1.0,
        "seq": seq,
        "lease_seconds": 30.0,
        "media_mode": True,
        "containers": {},
        "process_groups": {},
        "download_limit_bps": None,
        "governor": governor,
        "signature": None,
    }


class OldDesiredState(DesiredState):
    """The old model, for signing a legacy state the way the old governor did."""

    governor: dict[str, JsonValue]


# The class name is part of what is signed: the old one was called DesiredState.
OldDesiredState.__name__ = "DesiredState"


def signed_legacy(host: str, keyring: Keyring) -> bytes:
    old = OldDesiredState.model_validate(legacy_desired(host, OLD_FLAT))
    return sign(old, keyring, "0d6e0e12", 5).model_dump_json().encode()


def test_each_slice_goes_out_and_comes_back_through_its_own_model() -> None:
    memory = Memory(EVERY_SWITCH, {**EVERY_SLICE, **NEWER_SLICES})
    status = GovernorStatus(media_mode=True, thermal_stage=2, io_throttled=True)
    message = to_message("h", 7, memory, status)
    again = GovernorMemory.model_validate_json(message.model_dump_json())
    restored, problems = from_message(again)
    assert problems == {} and restored == memory
    assert set(again.rules) == {rule.name for rule in RULES} - {"manual_pause"}


def test_a_rule_at_rest_is_left_out() -> None:
    message = to_message("h", 1, Memory(rules={"thermal": ThermalMemory()}), GovernorStatus())
    assert message.rules == {}


def test_a_slice_that_no_longer_validates_starts_only_that_rule_afresh() -> None:
    raw = to_message("h", 1, Memory(SWITCHES, EVERY_SLICE), GovernorStatus()).model_dump()
    raw["rules"]["thermal"] = {"stage": 7}
    raw["rules"]["a_rule_since_removed"] = {"x": 1}
    restored, problems = from_message(GovernorMemory.model_validate(raw))
    assert set(problems) == {"thermal", "a_rule_since_removed"}
    assert "stage" in problems["thermal"]
    assert "thermal" not in restored.rules
    assert restored.rules["io_pressure"] == EVERY_SLICE["io_pressure"]
    assert restored.switches == SWITCHES


def test_the_old_flat_memory_is_carried_into_every_slice() -> None:
    memory, problems = from_legacy(LegacyMemory.model_validate(OLD_FLAT))
    assert problems == {}
    assert memory == Memory(SWITCHES, EVERY_SLICE)


def test_an_old_memory_with_a_bad_field_keeps_the_rest() -> None:
    broken = {**OLD_FLAT, "thermal_stage": 9, "preset": "turbo"}
    memory, problems = from_legacy(LegacyMemory.model_validate(broken))
    assert set(problems) == {"thermal", "switches"}
    assert "thermal" not in memory.rules and memory.switches.media_forced
    assert memory.rules["io_pressure"] == EVERY_SLICE["io_pressure"]


def keyed_config(tmp_path: Path, broker: Mosquitto, host_id: str, key: Path) -> Path:
    return write_config(
        tmp_path / "config.yaml",
        {
            "host_id": host_id,
            "mqtt": {"host": broker.host, "port": broker.port},
            "media_mode": {"enabled": True, "provider": "webhook"},
            "security": {"signing_key_file": str(key)},
        },
    )


def first_memory(probe: Probe, host_id: str, after: float) -> GovernorMemory:
    """The memory a governor started after `after` publishes first (live, not replayed)."""
    seen = probe.wait_for(
        f"warden/{host_id}/governor/memory", lambda s: not s.retained, after=after
    )
    return GovernorMemory.model_validate_json(seen.payload)


def forget_retained(probe: Probe, host_id: str) -> None:
    for leaf in ("desired", "governor/memory"):
        probe.publish(f"warden/{host_id}/{leaf}", b"", retain=True)


def test_upgrade_from_a_signed_old_desired_state_loses_nothing(
    tmp_path: Path, broker: Mosquitto, probe: Probe, host_id: str
) -> None:
    key = write_key(tmp_path / "signing.key")
    retained = signed_legacy(host_id, load_keyring(key))
    started = probe.publish_heard(f"warden/{host_id}/desired", retained, retain=True)
    governor = Service("governor", keyed_config(tmp_path, broker, host_id, key), tmp_path)
    try:
        memory = first_memory(probe, host_id, started)
        assert memory.switches == SWITCHES and memory.status.thermal_stage == 2
        assert memory.signature is not None and memory.seq > 41
        # Stage 2 held; its hold restarts, as the temperature is unknown here.
        restored, problems = from_message(memory)
        assert problems == {}
        assert restored.rules["thermal"] == ThermalMemory(stage=2, warned=True)
        assert restored.rules["io_pressure"] == IoMemory(throttled=True)
        desired = probe.wait_for(
            f"warden/{host_id}/desired", lambda s: not s.retained, after=started
        )
        assert "governor" not in json.loads(desired.payload)
        assert DesiredState.model_validate_json(desired.payload).signature is not None
    finally:
        governor.kill(signal.SIGTERM)
        forget_retained(probe, host_id)


def test_an_old_state_someone_else_signed_is_not_restored(
    tmp_path: Path, broker: Mosquitto, probe: Probe, host_id: str
) -> None:
    """Left retained on the real broker by a forger with another key."""
    stranger = load_keyring(write_key(tmp_path / "stranger.key"))
    forged = signed_legacy(host_id, stranger)
    started = probe.publish_heard(f"warden/{host_id}/desired", forged, retain=True)
    config = keyed_config(tmp_path, broker, host_id, write_key(tmp_path / "signing.key"))
    governor = Service("governor", config, tmp_path)
    try:
        memory = first_memory(probe, host_id, started)
        assert memory.switches == Switches() and not memory.status.media_mode
        assert "state.untrusted" in governor.output()
    finally:
        governor.kill(signal.SIGTERM)
        forget_retained(probe, host_id)


def test_a_memory_someone_else_signed_is_not_restored(
    tmp_path: Path, broker: Mosquitto, probe: Probe, host_id: str
) -> None:
    """Tampering with the governor's memory topic on the real broker: refused."""
    stranger = load_keyring(write_key(tmp_path / "stranger.key"))
    forged = sign(
        to_message(host_id, 3, Memory(SWITCHES), GovernorStatus()), stranger, "5171a9e5", 1
    )
    memory_topic = f"warden/{host_id}/governor/memory"
    started = probe.publish_heard(memory_topic, forged.model_dump_json(), retain=True)
    config = keyed_config(tmp_path, broker, host_id, write_key(tmp_path / "signing.key"))
    governor = Service("governor", config, tmp_path)
    try:
        memory = first_memory(probe, host_id, started)
        assert memory.switches == Switches()
        assert "memory.untrusted" in governor.output()
    finally:
        governor.kill(signal.SIGTERM)
        forget_retained(probe, host_id)


def test_a_real_governor_upgrades_then_restarts_from_its_own_memory(
    tmp_path: Path, broker: Mosquitto, probe: Probe, host_id: str
) -> None:
    config = write_config(
        tmp_path / "config.yaml",
        {
            "host_id": host_id,
            "mqtt": {"host": broker.host, "port": broker.port},
            "media_mode": {"enabled": True, "provider": "webhook"},
            "io_pressure": {"enabled": False},
            "governor": {"lease_seconds": 10, "renew_seconds": 1},
        },
    )
    old = legacy_desired(host_id, OLD_FLAT)
    probe.publish_heard(f"warden/{host_id}/desired", json.dumps(old), retain=True)
    topic = f"warden/{host_id}/governor/memory"
    service = Service("governor", config, tmp_path)
    try:
        seen = probe.wait_for(topic, lambda s: not s.retained)
        memory = GovernorMemory.model_validate_json(seen.payload)
        assert memory.switches == SWITCHES
        assert memory.status.thermal_stage == 2 and memory.status.media_mode
        assert memory.seq > 41
        wait_until(lambda: "desired_state (before the memory topic)" in service.output())
        service.kill(signal.SIGKILL)

        # Restarted: its own memory this time, the old field long gone from the desired state.
        restarted_at = time.monotonic()
        service = Service("governor", config, tmp_path)
        seen = probe.wait_for(topic, lambda s: not s.retained, after=restarted_at)
        again = GovernorMemory.model_validate_json(seen.payload)
        assert again.switches == SWITCHES and again.status.thermal_stage == 2
        wait_until(lambda: "source=memory" in service.output(), what="restored from memory")
    finally:
        service.kill(signal.SIGTERM)


def test_a_yield_on_a_disk_that_is_no_disk_starts_afresh() -> None:
    raw = to_message("h", 1, Memory(SWITCHES, NEWER_SLICES), GovernorStatus()).model_dump()
    raw["rules"]["io_yield"]["disks"] = ["../sda"]
    restored, problems = from_message(GovernorMemory.model_validate(raw))
    assert set(problems) == {"io_yield"} and "disks.0" in problems["io_yield"]
    assert "io_yield" not in restored.rules
    assert restored.rules["cpu_yield"] == NEWER_SLICES["cpu_yield"]
