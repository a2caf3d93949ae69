"""One test per guarantee of README's Security model that had none on real parts: a real
Mosquitto, the real engine and cgroups, real governor and actuator processes. The README's
table maps each guarantee to its test (here, or in test_security.py and the others)."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from shared.messages import Action, ContainerIntent, CpuMax, DesiredState, IoMax, Reason
from shared.signing import load_keyring, new_key, sign
from tests.support.broker import Mosquitto
from tests.support.docker_env import Containers, control_state
from tests.support.forgery import SENDER, actuator_config, applied, online, refused
from tests.support.intents import Limits
from tests.support.probe import Probe
from tests.support.processes import Service, wait_until, write_config

MIB = 1024**2


# Every limit a rule may set, none of them a pause.
LIMITS: Limits = {
    "memory_high": 64 * MIB,
    "cpu_max": CpuMax(quota_us=10_000),
    "io_max": IoMax(read_bps=MIB, write_bps=MIB),
    "cpu_idle": True,
}


# The control files that limit (v1 and v2 names): tiers also set weights, which are not limits.
LIMIT_FILES = (
    "cfs_quota_us",
    "cpu.max",
    "cpu.idle",
    "memory.high",
    "memory.max",
    "limit_in_bytes",
    "io.max",
    "bps_device",
    "iops_device",
)


def limits(containers: Containers, cid: str) -> dict[str, str]:
    files, _docker = control_state(containers, cid)
    found = {k: v for k, v in files.items() if k.endswith(LIMIT_FILES)}
    assert found, f"no limiting control file among {sorted(files)}"
    return found


def limiting(tier: int) -> ContainerIntent:
    return ContainerIntent(tier=tier, reasons=[Reason(rule="protect")], **LIMITS)


def desired(host_id: str, seq: int, **intents: ContainerIntent) -> DesiredState:
    return DesiredState(host=host_id, seq=seq, lease_seconds=30, containers=intents)


def open_broker(broker: Mosquitto) -> dict[str, object]:
    return {"host": broker.host, "port": broker.port}


def test_tier_0_tier_1_and_protected_containers_are_never_limited(
    tmp_path: Path, broker: Mosquitto, probe: Probe, containers: Containers, host_id: str
) -> None:
    """A forged desired state limits every container every way a rule can: tier 0, tier 1
    and the protected one keep every limiting control file (their tier's weights are no
    limit); tier 3 gets the limits (the same message, acted on where it may be)."""
    ids = {s: containers.run(s) for s in ("core", "stream", "prot", "t3")}
    before = {s: limits(containers, cid) for s, cid in ids.items()}
    cfg = actuator_config(tmp_path, containers, host_id, open_broker(broker))
    actuator = Service("actuator", cfg, tmp_path)
    n = containers.name
    try:
        online(probe, host_id)
        forged = desired(
            host_id,
            1,
            **{n("core"): limiting(3), n("stream"): limiting(1), n("prot"): limiting(3)},
            **{n("t3"): limiting(3)},
        )
        probe.publish(f"warden/{host_id}/desired", forged.model_dump_json())
        wait_until(lambda: limits(containers, ids["t3"]) != before["t3"], what="tier 3 limited")
        refused(probe, host_id, n("core"), "protected")
        refused(probe, host_id, n("prot"), "protected")
        refused(probe, host_id, n("stream"), "tier 1")
        for suffix in ("core", "stream", "prot"):
            assert limits(containers, ids[suffix]) == before[suffix], suffix
    finally:
        actuator.kill(signal.SIGTERM)


def test_a_container_in_no_tier_is_never_touched(
    tmp_path: Path, broker: Mosquitto, probe: Probe, containers: Containers, host_id: str
) -> None:
    stranger = containers.run("nobody")
    t3 = containers.run("t3")
    before = control_state(containers, stranger)
    cfg = actuator_config(tmp_path, containers, host_id, open_broker(broker))
    actuator = Service("actuator", cfg, tmp_path)
    try:
        online(probe, host_id)
        paused = ContainerIntent(tier=3, paused=True, reasons=[Reason(rule="x")], **LIMITS)
        forged = desired(host_id, 1, **{containers.name("nobody"): paused})
        forged.containers[containers.name("t3")] = paused
        probe.publish(f"warden/{host_id}/desired", forged.model_dump_json())
        wait_until(lambda: containers.state(t3) == "paused", what="tier 3 paused")
        refused(probe, host_id, containers.name("nobody"), "not in any tier")
        assert containers.state(stranger) == "running"
        assert control_state(containers, stranger) == before
        assert containers.name("nobody") not in (tmp_path / "state.json").read_text()
    finally:
        actuator.kill(signal.SIGTERM)


def keyed_pair(
    tmp_path: Path, broker: Mosquitto, containers: Containers, host_id: str, key: Path
) -> Path:
    """A governor's and an actuator's config, signing with `key`."""
    return write_config(
        tmp_path / "config.yaml",
        {
            "host_id": host_id,
            "mqtt": open_broker(broker),
            "tiers": {3: {"containers": [containers.name("t3")]}},
            "io_pressure": {"enabled": False},
            "governor": {"lease_seconds": 10, "renew_seconds": 1},
            "actuator": {"state_file": str(tmp_path / "state.json"), "startup_grace_seconds": 1},
            "security": {"signing_key_file": str(key)},
        },
    )


def signed_by(probe: Probe, host_id: str, after: float) -> DesiredState:
    seen = probe.wait_for(f"warden/{host_id}/desired", lambda s: not s.retained, after=after)
    state = DesiredState.model_validate_json(seen.payload)
    assert state.signature is not None
    return state


def test_a_new_sender_id_and_a_higher_epoch_at_every_governor_start(
    tmp_path: Path,
    broker: Mosquitto,
    probe: Probe,
    containers: Containers,
    host_id: str,
    key_file: Path,
) -> None:
    cfg = keyed_pair(tmp_path, broker, containers, host_id, key_file)
    starts = []
    for _ in range(2):
        at = time.monotonic()
        governor = Service("governor", cfg, tmp_path)
        try:
            starts.append(signed_by(probe, host_id, at).signature)
        finally:
            governor.kill(signal.SIGKILL)
    first, second = starts
    assert first is not None and second is not None
    assert first.sender != second.sender and second.epoch > first.epoch


def test_an_action_from_an_older_governor_start_is_refused_end_to_end(
    tmp_path: Path,
    broker: Mosquitto,
    probe: Probe,
    containers: Containers,
    host_id: str,
    key_file: Path,
) -> None:
    """A restart action signed by the governor's first start arrives after its second start
    has spoken: the actuator refuses it and the container keeps running, untouched."""
    t3 = containers.run("t3")
    started_at = containers.api.inspect_container(t3)["State"]["StartedAt"]
    cfg = keyed_pair(tmp_path, broker, containers, host_id, key_file)
    actuator = Service("actuator", cfg, tmp_path)
    at = time.monotonic()
    governor = Service("governor", cfg, tmp_path)
    try:
        old = signed_by(probe, host_id, at).signature
        assert old is not None
        governor.kill(signal.SIGKILL)
        at = time.monotonic()
        governor = Service("governor", cfg, tmp_path)
        new = signed_by(probe, host_id, at).signature
        assert new is not None and new.epoch > old.epoch
        applied(probe, host_id, lambda a: a.mode == "desired", after=time.monotonic())
        restart = Action(
            host=host_id,
            kind="restart",
            container=containers.name("t3"),
            reasons=[Reason(rule="x")],
        )
        stale = sign(restart, load_keyring(key_file), old.sender, old.epoch)
        probe.publish(f"warden/{host_id}/actions", stale.model_dump_json())
        refused(probe, host_id, "action restart", "from an earlier governor start")
        assert containers.api.inspect_container(t3)["State"]["StartedAt"] == started_at
    finally:
        governor.kill(signal.SIGTERM)
        actuator.kill(signal.SIGTERM)


def test_without_a_key_the_governor_says_once_that_it_signs_nothing(
    tmp_path: Path, broker: Mosquitto, probe: Probe, host_id: str
) -> None:
    cfg = write_config(tmp_path / "config.yaml", {"host_id": host_id, "mqtt": open_broker(broker)})
    at = time.monotonic()
    governor = Service("governor", cfg, tmp_path)
    try:
        state = DesiredState.model_validate_json(
            probe.wait_for(f"warden/{host_id}/desired", after=at).payload
        )
        assert state.signature is None
    finally:
        governor.kill(signal.SIGTERM)
    assert governor.output().count("signing.off") == 1


def test_the_key_rotation_procedure_never_lets_the_two_disagree(
    tmp_path: Path,
    broker: Mosquitto,
    probe: Probe,
    containers: Containers,
    host_id: str,
    key_file: Path,
) -> None:
    """README's three steps, each with its restart: after every step a trigger still pauses
    and resumes tier 3, and the actuator refuses nothing."""
    t3 = containers.run("t3")
    cfg = keyed_pair(tmp_path, broker, containers, host_id, key_file)
    old_key = key_file.read_text().strip()
    new = new_key()
    services = {name: Service(name, cfg, tmp_path) for name in ("sensors", "governor", "actuator")}

    def restart(name: str) -> None:
        services[name].kill(signal.SIGTERM)
        at = time.monotonic()
        services[name] = Service(name, cfg, tmp_path)
        probe.wait_for(
            f"warden/{host_id}/{name}/availability", lambda s: s.text == "online", after=at
        )

    def still_agreeing(step: str) -> None:
        probe.publish(f"warden/{host_id}/trigger", "tier3_pause")
        wait_until(lambda: containers.state(t3) == "paused", what=f"paused after {step}")
        probe.publish(f"warden/{host_id}/trigger", "tier3_resume")
        wait_until(lambda: containers.state(t3) == "running", what=f"resumed after {step}")
        assert "refused" not in services["actuator"].output(), step

    try:
        for name in services:
            probe.wait_for(f"warden/{host_id}/{name}/availability", lambda s: s.text == "online")
        still_agreeing("the start")
        key_file.write_text(f"{old_key}\n{new}\n")  # 1. the new key on a second line
        restart("actuator")
        still_agreeing("step 1")
        key_file.write_text(f"{new}\n{old_key}\n")  # 2. swapped: the new key signs
        restart("governor")
        still_agreeing("step 2")
        key_file.write_text(f"{new}\n")  # 3. the old key gone
        restart("actuator")
        still_agreeing("step 3")
    finally:
        for service in services.values():
            service.kill(signal.SIGTERM)


def test_the_governor_republishes_when_the_actuator_comes_online(
    tmp_path: Path,
    broker: Mosquitto,
    probe: Probe,
    containers: Containers,
    host_id: str,
    key_file: Path,
) -> None:
    """A fresh actuator trusts only live renewals: the governor does not make it wait for
    the next one (its renewals here are a minute apart)."""
    cfg = keyed_pair(tmp_path, broker, containers, host_id, key_file)
    text = cfg.read_text().replace("renew_seconds: 1", "renew_seconds: 60")
    cfg.write_text(text.replace("lease_seconds: 10", "lease_seconds: 180"))
    governor = Service("governor", cfg, tmp_path)
    actuator: Service | None = None
    try:
        first = signed_by(probe, host_id, 0.0)
        at = time.monotonic()
        actuator = Service("actuator", cfg, tmp_path)
        came = probe.wait_for(
            f"warden/{host_id}/actuator/availability", lambda s: s.text == "online", after=at
        )
        again = probe.wait_for(f"warden/{host_id}/desired", lambda s: not s.retained, after=came.at)
        republished = DesiredState.model_validate_json(again.payload)
        assert republished.seq >= first.seq
        assert again.at - came.at < 30  # well before the next renewal, a minute on
        applied(probe, host_id, lambda a: a.mode == "desired", after=came.at)
    finally:
        governor.kill(signal.SIGTERM)
        if actuator is not None:
            actuator.kill(signal.SIGTERM)


def test_a_governor_clock_gone_back_is_refused_and_reported(
    tmp_path: Path,
    broker: Mosquitto,
    probe: Probe,
    containers: Containers,
    host_id: str,
    key_file: Path,
) -> None:
    """A validly signed state from an earlier epoch (a governor whose clock went back and
    whose retained state was lost) is refused as out of date, on applied and as an event."""
    t3 = containers.run("t3")
    mqtt = open_broker(broker)
    cfg = actuator_config(tmp_path, containers, host_id, mqtt, signing_key_file=str(key_file))
    ring = load_keyring(key_file)
    actuator = Service("actuator", cfg, tmp_path)
    topic = f"warden/{host_id}/desired"
    try:
        online(probe, host_id)
        probe.publish(topic, sign(desired(host_id, 1), ring, SENDER, 2000).model_dump_json())
        applied(probe, host_id, lambda a: a.mode == "desired")
        pause = ContainerIntent(tier=3, paused=True, reasons=[Reason(rule="x")])
        behind = sign(desired(host_id, 99, **{containers.name("t3"): pause}), ring, SENDER, 1999)
        probe.publish(topic, behind.model_dump_json())
        refused(probe, host_id, "desired state", "replayed or out of date")
        assert containers.state(t3) == "running"
        assert "desired.refused" in actuator.output()
    finally:
        actuator.kill(signal.SIGTERM)


def test_sigterm_puts_back_every_limit_not_only_the_pause(
    tmp_path: Path, broker: Mosquitto, probe: Probe, containers: Containers, host_id: str
) -> None:
    """A tier-3 container paused and limited every way: after the actuator's SIGTERM it
    runs, and every limiting control file and Docker's memory limit are as before Warden
    (the tier's weights are its baseline, which a stop keeps)."""
    t3 = containers.run("t3")
    before = limits(containers, t3), control_state(containers, t3)[1]["Memory"]
    cfg = actuator_config(tmp_path, containers, host_id, open_broker(broker))
    actuator = Service("actuator", cfg, tmp_path)
    try:
        online(probe, host_id)
        squeeze = ContainerIntent(tier=3, paused=True, reasons=[Reason(rule="x")], **LIMITS)
        probe.publish(
            f"warden/{host_id}/desired",
            desired(host_id, 1, **{containers.name("t3"): squeeze}).model_dump_json(),
        )
        wait_until(lambda: containers.state(t3) == "paused", what="paused")
        wait_until(lambda: limits(containers, t3) != before[0], what="limited")
        assert actuator.stop() == 0
    finally:
        actuator.kill()
    assert containers.state(t3) == "running"
    assert (limits(containers, t3), control_state(containers, t3)[1]["Memory"]) == before
