"""Nothing on the bus makes the actuator hurt what it protects: real broker, real engine.

Three layers, each tested alone: the actuator's own tier rules (whatever the
message says), the governor's signature, and the broker's ACL.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from shared.messages import (
    Action,
    DesiredState,
    GovernorMemory,
    Reason,
    Switches,
)
from shared.signing import Keyring, load_keyring, new_key, sign
from tests.support.acl_broker import AclBroker, mqtt_login, password, shipped_acl_broker
from tests.support.broker import Mosquitto
from tests.support.docker_env import Containers
from tests.support.forgery import (
    SENDER,
    actuator_config,
    applied,
    intent,
    online,
    pausing,
    refused,
)
from tests.support.probe import Probe
from tests.support.processes import Service, wait_until


def test_each_tier_rule_holds_against_a_forged_desired_state(
    tmp_path: Path, broker: Mosquitto, probe: Probe, containers: Containers, host_id: str
) -> None:
    """No key and an open broker: only the actuator's own tier rules stand in the way."""
    ids = {s: containers.run(s) for s in ("core", "stream", "prot", "t2", "t3")}
    mqtt = {"host": broker.host, "port": broker.port}
    actuator = Service("actuator", actuator_config(tmp_path, containers, host_id, mqtt), tmp_path)
    n = containers.name
    try:
        online(probe, host_id)
        forged = pausing(
            host_id,
            10**9,  # a huge seq changes nothing: there is no ordering to win without a key
            **{
                n("core"): intent(3),  # tier 0, claimed as tier 3
                n("stream"): intent(1),
                n("prot"): intent(3),
                n("t2"): intent(2),  # a tier-2 pause without thermal stage 2
                n("t3"): intent(3),  # the one entry any rule may ask for
            },
        )
        probe.publish(f"warden/{host_id}/desired", forged.model_dump_json())
        wait_until(lambda: containers.state(ids["t3"]) == "paused", what="tier 3 paused")
        refused(probe, host_id, n("core"), "protected")
        refused(probe, host_id, n("prot"), "protected")
        refused(probe, host_id, n("stream"), "pause refused (tier 1: never")
        refused(probe, host_id, n("t2"), "pause refused (tier 2: only for gpu_share, thermal")
        for suffix in ("core", "stream", "prot", "t2"):
            assert containers.state(ids[suffix]) == "running", suffix

        started = {s: containers.api.inspect_container(ids[s])["State"]["StartedAt"] for s in ids}
        for suffix, rule in (("stream", "memory_emergency_restart"), ("t2", "memory_critical")):
            why = [Reason(rule=rule)]
            restart = Action(host=host_id, kind="restart", container=n(suffix), reasons=why)
            probe.publish(f"warden/{host_id}/actions", restart.model_dump_json())
        refused(probe, host_id, n("stream"), "restart refused: tier 1: restarted never")
        refused(probe, host_id, n("t2"), "only for memory_emergency_restart")
        for suffix in ids:
            now = containers.api.inspect_container(ids[suffix])["State"]["StartedAt"]
            assert now == started[suffix], suffix
    finally:
        actuator.kill(signal.SIGTERM)


def test_the_signature_alone_stops_forgery_and_replay(
    tmp_path: Path,
    broker: Mosquitto,
    probe: Probe,
    containers: Containers,
    host_id: str,
    key_file: Path,
) -> None:
    """An open broker where anyone may write desired: only the signature stands in the way."""
    t3 = containers.run("t3")
    mqtt = {"host": broker.host, "port": broker.port}
    cfg = actuator_config(tmp_path, containers, host_id, mqtt, signing_key_file=str(key_file))
    actuator = Service("actuator", cfg, tmp_path)
    ring = load_keyring(key_file)
    stranger = Keyring(Path("stranger"), (new_key().encode(),))
    topic, name = f"warden/{host_id}/desired", containers.name("t3")
    try:
        online(probe, host_id)
        probe.publish(topic, pausing(host_id, 1, **{name: intent(3)}).model_dump_json())
        refused(probe, host_id, "desired state", "refused: unsigned")
        forged = sign(pausing(host_id, 2, **{name: intent(3)}), stranger, SENDER, 1)
        probe.publish(topic, forged.model_dump_json())
        refused(probe, host_id, "desired state", "refused: bad signature")
        assert containers.state(t3) == "running"

        # The governor's own messages: a pause, then its release.
        paused = sign(pausing(host_id, 3, **{name: intent(3)}), ring, SENDER, 1)
        probe.publish(topic, paused.model_dump_json())
        wait_until(lambda: containers.state(t3) == "paused", what="paused when signed")
        released = sign(pausing(host_id, 4), ring, SENDER, 1)
        probe.publish(topic, released.model_dump_json())
        wait_until(lambda: containers.state(t3) == "running", what="released")
        # A recorded copy of the pause, replayed, cannot undo the later release.
        probe.publish(topic, paused.model_dump_json())
        refused(probe, host_id, "desired state", "refused: replayed or out of date")
        assert containers.state(t3) == "running"
        assert "signing.off" not in actuator.output()
    finally:
        actuator.kill(signal.SIGTERM)


def test_without_a_key_the_actuator_says_once_that_it_runs_unsigned(
    tmp_path: Path, broker: Mosquitto, probe: Probe, containers: Containers, host_id: str
) -> None:
    mqtt = {"host": broker.host, "port": broker.port}
    actuator = Service("actuator", actuator_config(tmp_path, containers, host_id, mqtt), tmp_path)
    try:
        online(probe, host_id)
    finally:
        actuator.kill(signal.SIGTERM)
    assert actuator.output().count("signing.off") == 1


LOGINS = ("governor", "actuator", "sensors", "homeassistant")


@pytest.fixture
def acl_broker() -> Iterator[AclBroker]:
    with shipped_acl_broker(LOGINS, allow_anonymous=False) as broker:
        yield broker


def as_user(broker: AclBroker, user: str) -> Probe:
    return Probe("127.0.0.1", broker.port, username=user, password=password(user))


def test_the_broker_acl_alone_stops_forgery(
    tmp_path: Path, acl_broker: AclBroker, containers: Containers, host_id: str
) -> None:
    """No key: only the shipped ACL stands in the way. Any user but the governor writes
    a desired state that would pause a tier-3 container; the broker drops it."""
    t3 = containers.run("t3")
    cfg = actuator_config(tmp_path, containers, host_id, mqtt_login(acl_broker, "actuator"))
    actuator = Service("actuator", cfg, tmp_path)
    watcher = as_user(acl_broker, "sensors")
    topic, name = f"warden/{host_id}/desired", containers.name("t3")
    try:
        online(watcher, host_id)
        for seq, user in enumerate(("homeassistant", "sensors", "actuator"), 1):
            forger = as_user(acl_broker, user)
            forger.publish(topic, pausing(host_id, seq, **{name: intent(3)}).model_dump_json())
            forger.close()
        # The same message from the governor's login goes through: the test could see one.
        governor = as_user(acl_broker, "governor")
        governor.publish(topic, pausing(host_id, 99, **{name: intent(3)}).model_dump_json())
        wait_until(lambda: containers.state(t3) == "paused", what="paused by the governor")
        seen = [DesiredState.model_validate_json(s.payload).seq for s in watcher.messages(topic)]
        assert seen == [99]
        governor.close()
    finally:
        watcher.close()
        actuator.kill(signal.SIGTERM)


def test_a_keyed_governor_and_actuator_work_across_a_governor_restart(
    tmp_path: Path,
    broker: Mosquitto,
    probe: Probe,
    containers: Containers,
    host_id: str,
    key_file: Path,
) -> None:
    t3 = containers.run("t3")
    mqtt = {"host": broker.host, "port": broker.port}
    cfg = actuator_config(tmp_path, containers, host_id, mqtt, signing_key_file=str(key_file))
    # Left by a forger before the governor starts: it must not choose what it remembers.
    # Both where it keeps its memory now and where a governor before the memory topic did.
    forged_memory = GovernorMemory(host=host_id, switches=Switches(tier3_manual_pause=True))
    probe.publish(f"warden/{host_id}/governor/memory", forged_memory.model_dump_json(), retain=True)
    forged = {"host": host_id, "seq": 5, "lease_seconds": 30, "governor": {"media_forced": True}}
    probe.publish(f"warden/{host_id}/desired", json.dumps(forged), retain=True)
    actuator = Service("actuator", cfg, tmp_path)
    sensors = Service("sensors", cfg, tmp_path)
    governor = Service("governor", cfg, tmp_path)
    trigger = f"warden/{host_id}/trigger"
    try:
        probe.wait_for(f"warden/{host_id}/governor/availability", lambda s: s.text == "online")
        applied(probe, host_id, lambda a: a.mode == "desired" and bool(a.containers))
        assert containers.state(t3) == "running"
        assert "state.untrusted" in governor.output()
        assert "memory.untrusted" in governor.output()

        probe.publish(trigger, "tier3_pause")
        wait_until(lambda: containers.state(t3) == "paused", what="paused by a signed state")
        governor.kill(signal.SIGKILL)
        governor = Service("governor", cfg, tmp_path)
        # The new start signs with a new sender and a higher epoch, and remembers the pause.
        after = probe.wait_for(
            f"warden/{host_id}/governor/availability", lambda s: s.text == "online"
        ).at
        applied(probe, host_id, lambda a: a.mode == "desired", after=after + 1.5)
        assert containers.state(t3) == "paused"
        probe.publish(trigger, "tier3_resume")
        wait_until(lambda: containers.state(t3) == "running", what="resumed by the new start")
        assert "desired.refused" not in actuator.output()
    finally:
        for service in (governor, sensors, actuator):
            service.kill(signal.SIGTERM)
        probe.publish(f"warden/{host_id}/desired", b"", retain=True)


def test_a_lease_of_any_length_runs_out_at_the_actuators_own_maximum(
    tmp_path: Path,
    broker: Mosquitto,
    probe: Probe,
    containers: Containers,
    host_id: str,
    key_file: Path,
) -> None:
    """A signed state asking for a lease of 1e308 seconds: the actuator holds it for its
    own max_lease_seconds, then restores the baseline, though no governor said offline."""
    t3 = containers.run("t3")
    mqtt = {"host": broker.host, "port": broker.port}
    cfg = actuator_config(tmp_path, containers, host_id, mqtt, signing_key_file=str(key_file))
    config = yaml.safe_load(cfg.read_text())
    config["actuator"]["max_lease_seconds"] = 3
    cfg.write_text(yaml.safe_dump(config))
    actuator = Service("actuator", cfg, tmp_path)
    ring = load_keyring(key_file)
    try:
        online(probe, host_id)
        forever = pausing(host_id, 1, **{containers.name("t3"): intent(3)})
        forever = forever.model_copy(update={"lease_seconds": 1e308})
        probe.publish(f"warden/{host_id}/desired", sign(forever, ring, SENDER, 1).model_dump_json())
        wait_until(lambda: containers.state(t3) == "paused", what="paused by the long lease")
        wait_until(lambda: containers.state(t3) == "running", what="the clamped lease ran out")
        out = actuator.output()
        assert "lease.clamped" in out and "kept_seconds=3" in out
        assert "lease expired (3s without renewal)" in out
    finally:
        actuator.kill(signal.SIGTERM)


def test_a_restarted_actuator_admits_no_replay(
    tmp_path: Path,
    broker: Mosquitto,
    probe: Probe,
    containers: Containers,
    host_id: str,
    key_file: Path,
) -> None:
    """The replay guard is in the state file: after a SIGKILL and a new start, a recorded
    pause from before the release is refused, and so is an action of an older start."""
    t3 = containers.run("t3")
    mqtt = {"host": broker.host, "port": broker.port}
    cfg = actuator_config(tmp_path, containers, host_id, mqtt, signing_key_file=str(key_file))
    ring = load_keyring(key_file)
    topic, name = f"warden/{host_id}/desired", containers.name("t3")
    actuator = Service("actuator", cfg, tmp_path)
    try:
        online(probe, host_id)
        paused = sign(pausing(host_id, 3, **{name: intent(3)}), ring, SENDER, 5)
        probe.publish(topic, paused.model_dump_json())
        wait_until(lambda: containers.state(t3) == "paused", what="paused when signed")
        released = sign(pausing(host_id, 4), ring, SENDER, 5)
        probe.publish(topic, released.model_dump_json())
        wait_until(lambda: containers.state(t3) == "running", what="released")

        actuator.kill(signal.SIGKILL)
        restarted_at = time.monotonic()
        actuator = Service("actuator", cfg, tmp_path)
        probe.wait_for(
            f"warden/{host_id}/actuator/availability",
            lambda s: s.text == "online",
            after=restarted_at,
        )
        probe.publish(topic, paused.model_dump_json())
        refused(probe, host_id, "desired state", "refused: replayed or out of date")
        old_start = sign(
            Action(host=host_id, kind="restart", container=name, reasons=[Reason(rule="x")]),
            ring,
            SENDER,
            4,
        )
        probe.publish(f"warden/{host_id}/actions", old_start.model_dump_json())
        refused(probe, host_id, "action restart", "refused: from an earlier governor start")
        assert containers.state(t3) == "running"
    finally:
        actuator.kill(signal.SIGTERM)
