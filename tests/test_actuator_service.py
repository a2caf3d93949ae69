"""The actuator process, with the test playing the governor on the real broker and engine."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path

import docker

from host.cgroups.view import detect_layout, process_cgroups
from services.actuator.applier import STOP_AFTER_CHANGES
from shared.messages import (
    Applied,
    ContainerFact,
    ContainerIntent,
    ContainerInventory,
    DesiredState,
    Event,
    PressureFact,
    PressureLine,
    Reason,
    ResourcePressure,
)
from tests.support.broker import Mosquitto
from tests.support.docker_env import Containers, control_state, engine
from tests.support.probe import Probe
from tests.support.processes import Service, run_cleanup, wait_until, write_config

MIB = 1024**2


def config(
    tmp_path: Path,
    broker: Mosquitto,
    host_id: str,
    containers: Containers,
    actuator: dict[str, object] | None = None,
    **extra: object,
) -> Path:
    return write_config(
        tmp_path / "config.yaml",
        {
            "host_id": host_id,
            "mqtt": {"host": broker.host, "port": broker.port},
            "tiers": {
                0: {"containers": [containers.name("core")]},
                3: {
                    "containers": [f"{containers.prefix}-t3*", containers.name("db")],
                    "memory_high": "200M",
                    "memory_max": "256M",
                },
            },
            "protected_containers": [containers.name("db")],
            "actuator": {
                "state_file": str(tmp_path / "state.json"),
                "startup_grace_seconds": 1,
                **(actuator or {}),
            },
            **extra,
        },
    )


def pause(host_id: str, *names: str, lease: float = 30, seq: int = 1) -> str:
    intents = {
        n: ContainerIntent(tier=3, paused=True, reasons=[Reason(rule="test")]) for n in names
    }
    return DesiredState(
        host=host_id, seq=seq, lease_seconds=lease, containers=intents
    ).model_dump_json()


def pause_live(probe: Probe, host_id: str, containers: Containers, cid: str, suffix: str) -> None:
    """Once the actuator listens, a live desired state pauses one container."""
    probe.wait_for(f"warden/{host_id}/actuator/availability", lambda s: s.text == "online")
    probe.publish(f"warden/{host_id}/desired", pause(host_id, containers.name(suffix)))
    wait_until(lambda: containers.state(cid) == "paused", what="paused")


def applied_where(
    probe: Probe, host_id: str, check: Callable[[Applied], bool], after: float = 0.0
) -> Applied:
    seen = probe.wait_for(
        f"warden/{host_id}/applied",
        lambda s: check(Applied.model_validate_json(s.payload)),
        after=after,
    )
    return Applied.model_validate_json(seen.payload)


def test_lease_expiry_restores_the_baseline(
    tmp_path: Path, broker: Mosquitto, probe: Probe, containers: Containers, host_id: str
) -> None:
    t3 = containers.run("t3")
    actuator = Service("actuator", config(tmp_path, broker, host_id, containers), tmp_path)
    try:
        probe.wait_for(f"warden/{host_id}/actuator/availability", lambda s: s.text == "online")
        probe.publish(
            f"warden/{host_id}/desired", pause(host_id, containers.name("t3"), lease=3), retain=True
        )
        wait_until(lambda: containers.state(t3) == "paused", what="paused by the desired state")
        # No renewal comes, and no governor ever said offline: only the lease can end it.
        wait_until(lambda: containers.state(t3) == "running", timeout=15, what="lease expiry")
        applied = applied_where(
            probe, host_id, lambda a: a.mode == "baseline" and bool(a.containers)
        )
        assert applied.baseline_reason == "lease expired (3s without renewal)"
    finally:
        actuator.kill(signal.SIGTERM)


def test_a_retained_desired_state_is_not_trusted_until_renewed(
    tmp_path: Path, broker: Mosquitto, probe: Probe, containers: Containers, host_id: str
) -> None:
    t3 = containers.run("t3")
    # Left by a governor long gone, before this actuator starts.
    probe.publish(f"warden/{host_id}/desired", pause(host_id, containers.name("t3")), retain=True)
    actuator = Service("actuator", config(tmp_path, broker, host_id, containers), tmp_path)
    try:
        applied = applied_where(probe, host_id, lambda a: bool(a.containers))
        assert applied.mode == "baseline" and applied.baseline_reason == "no live desired state yet"
        assert containers.state(t3) == "running"
        probe.publish(
            f"warden/{host_id}/desired", pause(host_id, containers.name("t3"), seq=2), retain=True
        )
        wait_until(lambda: containers.state(t3) == "paused", what="paused once renewed")
        assert "desired.untrusted" in actuator.output()
    finally:
        actuator.kill(signal.SIGTERM)
        probe.publish(f"warden/{host_id}/desired", b"", retain=True)


def test_forged_desired_states_are_refused_and_reported(
    tmp_path: Path, broker: Mosquitto, probe: Probe, containers: Containers, host_id: str
) -> None:
    core, db, t3 = containers.run("core"), containers.run("db"), containers.run("t3")
    actuator = Service("actuator", config(tmp_path, broker, host_id, containers), tmp_path)
    try:
        probe.wait_for(f"warden/{host_id}/actuator/availability", lambda s: s.text == "online")
        forged = DesiredState(
            host=host_id,
            seq=1,
            lease_seconds=30,
            containers={
                containers.name("core"): ContainerIntent(
                    tier=3, paused=True, reasons=[Reason(rule="x")]
                ),
                containers.name("db"): ContainerIntent(
                    tier=3, paused=True, reasons=[Reason(rule="x")]
                ),
                containers.name("t3"): ContainerIntent(
                    tier=3, paused=True, reasons=[Reason(rule="x")]
                ),
                "not-configured": ContainerIntent(tier=3, paused=True, reasons=[Reason(rule="x")]),
            },
        )
        probe.publish(f"warden/{host_id}/desired", forged.model_dump_json())
        wait_until(lambda: containers.state(t3) == "paused", what="the legitimate part applied")
        applied = applied_where(probe, host_id, lambda a: len(a.refusals) == 3)
        refused = {r.target: r.reason for r in applied.refusals}
        assert "protected" in refused[containers.name("core")]
        assert "protected" in refused[containers.name("db")]
        assert refused["not-configured"] == "not in any tier of the config"
        assert containers.state(core) == "running" and containers.state(db) == "running"
        probe.wait_for(
            f"warden/{host_id}/events",
            lambda s: Event.model_validate_json(s.payload).kind == "refusal",
        )

        # A desired state for another host, on our topic, changes nothing.
        other = pause("elsewhere", containers.name("t3"))
        probe.publish(f"warden/{host_id}/desired", other)
        applied = applied_where(
            probe, host_id, lambda a: any("elsewhere" in r.reason for r in a.refusals)
        )
        assert containers.state(t3) == "paused"
        # Garbage is dropped with a reason, and nothing changes.
        probe.publish(f"warden/{host_id}/desired", b'{"schema_version": 2}')
        wait_until(lambda: "bus.payload_dropped" in actuator.output(), what="garbage logged")
        assert containers.state(t3) == "paused"
    finally:
        actuator.kill(signal.SIGTERM)


def test_sigterm_leaves_nothing_paused(
    tmp_path: Path, broker: Mosquitto, probe: Probe, containers: Containers, host_id: str
) -> None:
    t3 = containers.run("t3")
    actuator = Service("actuator", config(tmp_path, broker, host_id, containers), tmp_path)
    try:
        pause_live(probe, host_id, containers, t3, "t3")
        assert actuator.stop() == 0
        assert containers.state(t3) == "running"
    finally:
        actuator.kill()


def test_a_restarted_actuator_unpauses_what_it_paused_before_a_crash(
    tmp_path: Path, broker: Mosquitto, probe: Probe, containers: Containers, host_id: str
) -> None:
    t3, theirs = containers.run("t3"), containers.run("t3-theirs")
    containers.api.pause(theirs)  # paused by someone else: not ours to undo
    cfg = config(tmp_path, broker, host_id, containers)
    actuator = Service("actuator", cfg, tmp_path)
    try:
        pause_live(probe, host_id, containers, t3, "t3")
        actuator.kill(signal.SIGKILL)
        assert containers.state(t3) == "paused"  # the crash left it so...
        actuator = Service("actuator", cfg, tmp_path)
        # ...and with no live desired state, the new actuator restores the baseline.
        wait_until(lambda: containers.state(t3) == "running", what="unpaused after restart")
        assert containers.state(theirs) == "paused"
    finally:
        actuator.kill(signal.SIGTERM)


def test_dry_run_only_logs(
    tmp_path: Path, broker: Mosquitto, probe: Probe, containers: Containers, host_id: str
) -> None:
    t3 = containers.run("t3")
    before = containers.api.inspect_container(t3)["HostConfig"]["Memory"]
    actuator = Service(
        "actuator", config(tmp_path, broker, host_id, containers), tmp_path, "--dry-run"
    )
    try:
        probe.wait_for(f"warden/{host_id}/actuator/availability", lambda s: s.text == "online")
        probe.publish(f"warden/{host_id}/desired", pause(host_id, containers.name("t3")))
        applied = applied_where(probe, host_id, lambda a: a.mode == "desired")
        assert applied.dry_run
        wait_until(lambda: "apply.pause" in actuator.output(), what="the would-be pause logged")
        assert containers.state(t3) == "running"
        assert containers.api.inspect_container(t3)["HostConfig"]["Memory"] == before
    finally:
        actuator.kill(signal.SIGTERM)


def _memory_pressure(host_id: str, avg10: float) -> str:
    line = PressureLine(avg10=avg10, avg60=0, avg300=0, total=1)
    return PressureFact(
        host=host_id, memory=ResourcePressure(some=line, full=line)
    ).model_dump_json()


def test_memory_squeeze_through_governor_and_actuator(
    tmp_path: Path, broker: Mosquitto, probe: Probe, containers: Containers, host_id: str
) -> None:
    t3 = containers.run("t3")
    cfg = config(
        tmp_path, broker, host_id, containers, governor={"lease_seconds": 10, "renew_seconds": 2}
    )
    governor, actuator = Service("governor", cfg, tmp_path), Service("actuator", cfg, tmp_path)
    cg = process_cgroups(detect_layout("/sys/fs/cgroup"), "/proc", containers.pid(t3))
    high = cg.v2_file("memory.high") or cg.v1_file("memory", "memory.soft_limit_in_bytes")
    assert high is not None
    try:
        for name in ("governor", "actuator"):
            probe.wait_for(f"warden/{host_id}/{name}/availability", lambda s: s.text == "online")
        # The test plays the sensors: real container, a reported RSS of 240M, high pressure.
        inventory = ContainerInventory(
            host=host_id,
            cpu_count=2,
            containers=[
                ContainerFact(
                    id=t3, name=containers.name("t3"), state="running", tier=3, rss_bytes=240 * MIB
                )
            ],
        )
        probe.publish(f"warden/{host_id}/sensors/containers", inventory.model_dump_json())
        wait_until(lambda: int(high.read_text()) == 200 * MIB, what="tier 3 memory.high baseline")
        probe.publish(f"warden/{host_id}/sensors/pressure", _memory_pressure(host_id, 80))
        wait_until(lambda: int(high.read_text()) == 180 * MIB, what="squeezed to RSS x 0.75")
        probe.publish(f"warden/{host_id}/sensors/pressure", _memory_pressure(host_id, 10))
        wait_until(lambda: int(high.read_text()) == 200 * MIB, what="released to the baseline")
        assert "memory_squeeze(memory.some_avg10 > 50)" in governor.output()
    finally:
        governor.kill(signal.SIGTERM)
        actuator.kill(signal.SIGTERM)


def _stopped(pid: int) -> bool:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "T"


def test_sigkill_mid_apply_then_cleanup_restores_everything(
    tmp_path: Path, broker: Mosquitto, probe: Probe, containers: Containers, host_id: str
) -> None:
    ids = [containers.run(f"t3-{n}") for n in range(4)]
    ids += [
        containers.run(f"t3-own{n}", mem_limit=300 * MIB, memswap_limit=600 * MIB, cpu_shares=512)
        for n in range(4)
    ]
    before = {cid: control_state(containers, cid) for cid in ids}
    cfg = config(tmp_path, broker, host_id, containers)
    # The actuator stops itself right after its sixth change to the host, a pass over
    # eight containers taking more (a pause, then the limits, each): the kill lands
    # between two changes of one pass, which never ends (its report never goes out).
    actuator = Service("actuator", cfg, tmp_path, env={STOP_AFTER_CHANGES: "6"})
    try:
        probe.wait_for(f"warden/{host_id}/actuator/availability", lambda s: s.text == "online")
        names = [containers.name(f"t3-{n}") for n in range(4)]
        names += [containers.name(f"t3-own{n}") for n in range(4)]
        asked_at = time.monotonic()
        probe.publish(f"warden/{host_id}/desired", pause(host_id, *names))
        wait_until(lambda: _stopped(actuator.process.pid), what="stopped after six changes")
        actuator.kill(signal.SIGKILL)
    finally:
        actuator.kill()
    mid_way = {cid: control_state(containers, cid) for cid in ids}
    changed = [
        cid for cid in ids if mid_way[cid] != before[cid] or containers.state(cid) != "running"
    ]
    assert changed, "the kill came before any change"
    applied_since = [
        Applied.model_validate_json(s.payload)
        for s in probe.messages(f"warden/{host_id}/applied")
        if s.at >= asked_at
    ]
    assert not any(a.mode == "desired" for a in applied_since), "the pass had ended"
    done = run_cleanup(cfg)
    assert done.returncode == 0, done.stderr
    for cid in ids:
        assert containers.state(cid) == "running"
        files, docker_fields = control_state(containers, cid)
        assert files == before[cid][0], cid
        if before[cid][1]["Memory"]:
            assert docker_fields == before[cid][1]
    assert "cleanup.restored" in done.stderr


def test_a_crash_between_recording_and_applying_is_cleaned_up(
    tmp_path: Path, containers: Containers, docker_api: docker.APIClient
) -> None:
    from host.docker.view import list_containers
    from services.actuator.applier import Applier, ApplyReport
    from services.actuator.state_store import StateStore
    from shared.logs import Log

    cid = containers.run("t3")
    before = control_state(containers, cid)
    store = StateStore(tmp_path / "state.json", Log("test"))
    host = Applier(
        engine(),
        detect_layout("/sys/fs/cgroup"),
        "/proc",
        None,
        store,
        False,
        Log("test"),
    )
    observed = next(c for c in list_containers(engine().api) if c.id == cid)
    assert host._record(observed, ApplyReport())  # the process dies here, before any write
    cfg = write_config(
        tmp_path / "config.yaml", {"actuator": {"state_file": str(tmp_path / "state.json")}}
    )
    done = run_cleanup(cfg)
    assert done.returncode == 0, done.stderr
    assert control_state(containers, cid) == before
    assert StateStore(tmp_path / "state.json", Log("test")).items() == []


def test_broker_gone_longer_than_the_lease_restores_the_baseline(
    tmp_path: Path, own_broker: Mosquitto, containers: Containers, host_id: str
) -> None:
    t3 = containers.run("t3")
    actuator = Service("actuator", config(tmp_path, own_broker, host_id, containers), tmp_path)
    probe = Probe(own_broker.host, own_broker.port)
    try:
        probe.wait_for(f"warden/{host_id}/actuator/availability", lambda s: s.text == "online")
        probe.publish(f"warden/{host_id}/desired", pause(host_id, containers.name("t3"), lease=3))
        wait_until(lambda: containers.state(t3) == "paused", what="paused")
        probe.close()
        own_broker.stop()  # no renewal, and no governor will can arrive either
        wait_until(
            lambda: containers.state(t3) == "running",
            timeout=20,
            what="baseline after the lease ran out with no broker",
        )
        assert "lease expired (3s without renewal)" in actuator.output()
    finally:
        actuator.kill(signal.SIGTERM)


def test_new_and_restarted_containers_get_their_baseline_from_docker_events(
    tmp_path: Path, broker: Mosquitto, probe: Probe, containers: Containers, host_id: str
) -> None:
    # A resync ten minutes away: only Docker's events can bring the baseline in time.
    cfg = config(tmp_path, broker, host_id, containers, actuator={"resync_seconds": 600})
    actuator = Service("actuator", cfg, tmp_path)

    def soft_limit(cid: str) -> int:
        cg = process_cgroups(detect_layout("/sys/fs/cgroup"), "/proc", containers.pid(cid))
        path = cg.v2_file("memory.high") or cg.v1_file("memory", "memory.soft_limit_in_bytes")
        assert path is not None
        return int(path.read_text())

    try:
        probe.wait_for(f"warden/{host_id}/actuator/availability", lambda s: s.text == "online")
        applied_where(probe, host_id, lambda a: a.mode == "baseline")
        t3 = containers.run("t3-late")  # appears after the actuator started
        wait_until(lambda: soft_limit(t3) == 200 * MIB, what="baseline on a new container")
        containers.api.restart(t3, timeout=1)  # the kernel forgets cgroup-file settings
        wait_until(lambda: soft_limit(t3) == 200 * MIB, what="baseline again after a restart")
        assert actuator.output().count("control=memory_high value=209715200") >= 2
    finally:
        actuator.kill(signal.SIGTERM)
