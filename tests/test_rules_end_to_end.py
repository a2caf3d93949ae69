"""Thermal, I/O pressure and memory restarts end to end: the test plays the sensors on the
real broker; real governor and actuator processes act on real Docker containers."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from host.cgroups.view import detect_layout, process_cgroups
from shared.messages import (
    Action,
    ContainerFact,
    ContainerInventory,
    Event,
    PressureFact,
    PressureLine,
    ResourcePressure,
    ThermalFact,
)
from tests.support.broker import Mosquitto
from tests.support.disks import docker_disks
from tests.support.docker_env import Containers
from tests.support.probe import Probe
from tests.support.processes import Service, wait_until, write_config

MIB = 1024**2
# Stops at once on SIGTERM, so a restart does not wait out Docker's kill timeout.
QUICK_STOP = ("sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done")


def config(
    tmp_path: Path, broker: Mosquitto, host_id: str, containers: Containers, **extra: object
) -> Path:
    return write_config(
        tmp_path / "config.yaml",
        {
            "host_id": host_id,
            "mqtt": {"host": broker.host, "port": broker.port},
            "tiers": {
                2: {"containers": [f"{containers.prefix}-t2*"]},
                3: {"containers": [f"{containers.prefix}-t3*", containers.name("db")]},
            },
            "protected_containers": [containers.name("db")],
            "governor": {"lease_seconds": 10, "renew_seconds": 2},
            "actuator": {"state_file": str(tmp_path / "state.json"), "startup_grace_seconds": 1},
            **extra,
        },
    )


@contextmanager
def governor_and_actuator(
    cfg: Path, tmp_path: Path, probe: Probe, host_id: str
) -> Iterator[Service]:
    governor, actuator = Service("governor", cfg, tmp_path), Service("actuator", cfg, tmp_path)
    try:
        for name in ("governor", "actuator"):
            probe.wait_for(f"warden/{host_id}/{name}/availability", lambda s: s.text == "online")
        yield governor
    finally:
        governor.kill(signal.SIGTERM)
        actuator.kill(signal.SIGTERM)


def publish_inventory(
    probe: Probe, host_id: str, containers: Containers, rss_mib: dict[str, tuple[str, int, int]]
) -> None:
    """rss_mib: suffix -> (container id, tier, RSS in MiB), all running."""
    inventory = ContainerInventory(
        host=host_id,
        cpu_count=2,
        containers=[
            ContainerFact(
                id=cid, name=containers.name(suffix), state="running", tier=tier,
                rss_bytes=rss * MIB,
            )
            for suffix, (cid, tier, rss) in rss_mib.items()
        ],
    )  # fmt: skip
    probe.publish(f"warden/{host_id}/sensors/containers", inventory.model_dump_json())


def publish_pressure(
    probe: Probe, host_id: str, io10: float = 0, full10: float = 0, some10: float = 0
) -> None:
    def line(avg10: float) -> PressureLine:
        return PressureLine(avg10=avg10, avg60=0, avg300=0, total=1)

    fact = PressureFact(
        host=host_id,
        memory=ResourcePressure(some=line(some10), full=line(full10)),
        io=ResourcePressure(some=line(io10), full=line(0)),
    )
    probe.publish(f"warden/{host_id}/sensors/pressure", fact.model_dump_json())


def publish_temperature(probe: Probe, host_id: str, celsius: float) -> None:
    fact = ThermalFact(
        host=host_id, available=True, hottest="zone/x86_pkg_temp", max_celsius=celsius
    )
    probe.publish(f"warden/{host_id}/sensors/thermal", fact.model_dump_json())


def events(probe: Probe, host_id: str, kind: str) -> list[Event]:
    seen = [
        Event.model_validate_json(s.payload) for s in probe.messages(f"warden/{host_id}/events")
    ]
    return [e for e in seen if e.kind == kind]


def test_thermal_stages_pause_tier3_then_tier2_and_recover_after_the_hold(
    tmp_path: Path, broker: Mosquitto, probe: Probe, containers: Containers, host_id: str
) -> None:
    t3, t2 = containers.run("t3"), containers.run("t2")
    cfg = config(tmp_path, broker, host_id, containers, thermal={"recovery_hold_seconds": 1})
    with governor_and_actuator(cfg, tmp_path, probe, host_id) as governor:
        publish_inventory(probe, host_id, containers, {"t3": (t3, 3, 50), "t2": (t2, 2, 50)})
        publish_temperature(probe, host_id, 77)
        wait_until(lambda: containers.state(t3) == "paused", what="stage 1 pauses tier 3")
        assert containers.state(t2) == "running"
        publish_temperature(probe, host_id, 82)
        wait_until(lambda: containers.state(t2) == "paused", what="stage 2 pauses tier 2")
        # Cooler, but not below recovery: the stage holds.
        publish_temperature(probe, host_id, 70)
        publish_temperature(probe, host_id, 60)
        wait_until(
            lambda: containers.state(t2) == "running" and containers.state(t3) == "running",
            what="recovered after the hold below recovery_temp_c",
        )
        log = governor.output()
        assert "thermal_stage1(temperature_c > 75, ends after" in log
        assert "thermal.recovered" in log
        assert len(events(probe, host_id, "thermal_stage1")) == 1
        assert len(events(probe, host_id, "thermal_stage2")) == 1


def test_io_pressure_throttles_tier3_and_releases_after_recovery(
    tmp_path: Path, broker: Mosquitto, probe: Probe, containers: Containers, host_id: str
) -> None:
    devices = docker_disks()
    t3 = containers.run("t3")
    cg = process_cgroups(detect_layout("/sys/fs/cgroup"), "/proc", containers.pid(t3))
    limit_file = cg.v2_file("io.max") or cg.v1_file("blkio", "blkio.throttle.read_bps_device")
    assert limit_file is not None
    cfg = config(tmp_path, broker, host_id, containers, io_pressure={"recovery_hold_seconds": 1})
    with governor_and_actuator(cfg, tmp_path, probe, host_id) as governor:
        publish_inventory(probe, host_id, containers, {"t3": (t3, 3, 50)})
        publish_pressure(probe, host_id, io10=75)

        def throttled() -> bool:
            text = limit_file.read_text()
            return f"rbps={5 * MIB}" in text or f"{devices[0]} {5 * MIB}" in text

        wait_until(throttled, what="tier 3 read bandwidth capped at 5 MiB/s")
        assert containers.state(t3) == "running"  # throttled, not paused
        publish_pressure(probe, host_id, io10=40)  # between the thresholds: stays
        publish_pressure(probe, host_id, io10=5)
        wait_until(lambda: str(5 * MIB) not in limit_file.read_text(), what="released")
        assert "io_pressure(io.some_avg10 > 60, lifted after" in governor.output()


def started_at(containers: Containers, cid: str) -> str:
    return containers.api.inspect_container(cid)["State"]["StartedAt"]


def sync_with_governor(probe: Probe, host_id: str, io10: float, full10: float) -> None:
    """Wait until the governor has decided on this reading: a renewal published after it.

    The reasons carry no live reading (a moving one changes nothing enforced), so the
    second renewal seen after the fact went out is one decided with it; the governor
    publishes its actions before the desired state of the same decision.
    """
    sent = time.monotonic()
    publish_pressure(probe, host_id, io10=io10, full10=full10)
    topic = f"warden/{host_id}/desired"
    first = probe.wait_for(topic, lambda s: True, after=sent)
    probe.wait_for(topic, lambda s: s.at > first.at, after=first.at)


def restarts(probe: Probe, host_id: str) -> list[str]:
    return [
        Action.model_validate_json(s.payload).container
        for s in probe.messages(f"warden/{host_id}/actions")
    ]


def test_emergency_restarts_the_biggest_tier3_container_exactly_once(
    tmp_path: Path, broker: Mosquitto, probe: Probe, containers: Containers, host_id: str
) -> None:
    small, big = containers.run("t3-small", QUICK_STOP), containers.run("t3-big", QUICK_STOP)
    t2 = containers.run("t2", QUICK_STOP)
    before = {cid: started_at(containers, cid) for cid in (small, big, t2)}
    cfg = config(
        tmp_path, broker, host_id, containers, memory_pressure={"restart_cooldown_seconds": 3600}
    )
    sizes = {"t3-small": (small, 3, 100), "t3-big": (big, 3, 300), "t2": (t2, 2, 500)}
    with governor_and_actuator(cfg, tmp_path, probe, host_id) as governor:
        publish_inventory(probe, host_id, containers, sizes)
        publish_pressure(probe, host_id, full10=50)
        wait_until(lambda: started_at(containers, big) != before[big], what="the restart")
        # Still an emergency, twice more: the global gate holds every further restart.
        sync_with_governor(probe, host_id, io10=70, full10=55)
        sync_with_governor(probe, host_id, io10=71, full10=60)
        assert restarts(probe, host_id) == [containers.name("t3-big")]
        assert started_at(containers, small) == before[small]
        assert started_at(containers, t2) == before[t2]
        assert governor.output().count("decision.restart") == 1
        (event,) = events(probe, host_id, "memory_emergency_restart")
        assert containers.name("t3-big") in event.message
    assert containers.state(big) == "running"


def test_emergency_escalates_to_tier2_when_no_tier3_container_remains(
    tmp_path: Path, broker: Mosquitto, probe: Probe, containers: Containers, host_id: str
) -> None:
    # Tier 3 holds only a protected container: nothing there may be restarted.
    db = containers.run("db", QUICK_STOP)
    small, big = containers.run("t2-small", QUICK_STOP), containers.run("t2-big", QUICK_STOP)
    before = {cid: started_at(containers, cid) for cid in (db, small, big)}
    cfg = config(
        tmp_path, broker, host_id, containers, memory_pressure={"restart_cooldown_seconds": 3600}
    )
    sizes = {"db": (db, 3, 900), "t2-small": (small, 2, 100), "t2-big": (big, 2, 300)}
    with governor_and_actuator(cfg, tmp_path, probe, host_id):
        publish_inventory(probe, host_id, containers, sizes)
        publish_pressure(probe, host_id, full10=50)
        wait_until(lambda: started_at(containers, big) != before[big], what="tier 2 restart")
        assert restarts(probe, host_id) == [containers.name("t2-big")]
        assert started_at(containers, db) == before[db]
        assert started_at(containers, small) == before[small]
        (event,) = events(probe, host_id, "memory_emergency_restart")
        assert "no Tier 3 container left" in event.message
