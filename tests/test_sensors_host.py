"""The sensors process end to end: PSI triggers on a real container, thermal, GPU, resources."""

from __future__ import annotations

import time
from pathlib import Path

from shared.messages import GpuFact, PressureFact, ResourcesFact, ThermalFact
from tests.support.broker import Mosquitto
from tests.support.docker_env import Containers
from tests.support.probe import Probe, Seen
from tests.support.processes import Service, write_config
from tests.support.psi import container_cgroup, need_psi
from tests.support.sysfs_machines import intel_desktop

# Writes through the page cache of the container's 16 MiB cgroup: it stalls on memory and io.
# busybox's sh runs its applets itself, whichever links the test image has.
LOAD = ["sh", "-c", "dd if=/dev/zero of=/big bs=1M count=600; rm -f /big"]


def base_config(broker: Mosquitto, host_id: str, **extra: object) -> dict:
    return {"host_id": host_id, "mqtt": {"host": broker.host, "port": broker.port}, **extra}


def polled_config(
    tmp_path: Path, broker: Mosquitto, host_id: str, sensors: dict, **extra: object
) -> Path:
    """Readings every 0.5 s, and no Docker engine to ask."""
    return write_config(
        tmp_path / "config.yaml",
        base_config(
            broker,
            host_id,
            general={"poll_interval_seconds": 0.5},
            sensors={"docker_url": f"unix://{tmp_path}/none.sock", **sensors},
            **extra,
        ),
    )


def pressure(seen: Seen) -> PressureFact:
    return PressureFact.model_validate_json(seen.payload)


def test_a_trigger_on_a_managed_container_publishes_at_once(
    tmp_path: Path, broker: Mosquitto, probe: Probe, containers: Containers, host_id: str
) -> None:
    need_psi()
    cid = containers.run("bulk", mem_limit="16m")
    container_cgroup(containers, cid)
    config = write_config(
        tmp_path / "config.yaml",
        base_config(
            broker,
            host_id,
            # Nothing is polled: only a trigger can publish before the 10-minute heartbeat.
            general={"poll_interval_seconds": 600},
            sensors={"heartbeat_seconds": 600},
            # A container's own triggers are the protect rule's: on the ones it watches.
            tiers={1: {"containers": [f"{containers.prefix}-*"]}},
            protect={"stall_percent": {"cpu": 5, "io": 5, "memory": 5}},
        ),
    )
    topic = f"warden/{host_id}/sensors/pressure"
    sensors = Service("sensors", config, tmp_path)
    try:
        # The inventory arms the container's triggers and lists it in the pressure fact.
        seen = probe.wait_for(topic, lambda s: any(c.id == cid for c in pressure(s).containers))
        fact = pressure(seen)
        # The host's own triggers may fire under other load; this container's has not yet.
        assert fact.mode == "triggers" and not any(f.scope == cid for f in fact.fired)
        (bulk,) = fact.containers
        assert bulk.name == containers.name("bulk") and bulk.source.endswith(cid)
        assert bulk.memory is not None and bulk.io is not None and bulk.cpu is not None

        loaded_at = time.monotonic()
        run = containers.api.exec_create(cid, LOAD)
        containers.api.exec_start(run["Id"], detach=True)
        fired = pressure(
            probe.wait_for(
                topic,
                lambda s: any(f.scope == cid for f in pressure(s).fired),
                after=loaded_at,
                timeout=30,
            )
        )
        triggers = {(f.resource, f.line) for f in fired.fired if f.scope == cid}
        assert triggers <= {("memory", "some"), ("io", "some"), ("cpu", "some")}
        assert {f.stall_us for f in fired.fired if f.scope == cid} == {100_000}
        assert fired.containers[0].memory is not None
        assert fired.memory is not None  # the host's averages travel with it
    finally:
        sensors.stop()
    output = sensors.output()
    assert "Traceback" not in output
    assert "pressure.triggers_armed" in output and "triggers_unavailable" not in output


def test_without_triggers_pressure_is_polled_and_that_is_said_once(
    tmp_path: Path, broker: Mosquitto, probe: Probe, host_id: str
) -> None:
    config = polled_config(tmp_path, broker, host_id, {"psi_triggers": False})
    topic = f"warden/{host_id}/sensors/pressure"
    sensors = Service("sensors", config, tmp_path)
    try:
        probe.wait_for(topic)
        first = probe.messages(topic)[0].at
        # Polled: changed readings keep coming without any trigger.
        probe.wait_for(topic, lambda s: s.at > first + 0.4, timeout=20)
    finally:
        sensors.stop()
    facts = [pressure(s) for s in probe.messages(topic)]
    assert {f.mode for f in facts} == {"polling"} and all(f.fired == [] for f in facts)
    assert sensors.output().count("pressure.triggers_unavailable") == 1


def test_thermal_gpu_and_resources_are_published(
    tmp_path: Path, broker: Mosquitto, probe: Probe, host_id: str
) -> None:
    sys_root = intel_desktop(tmp_path / "sys")
    sensors_section = {
        "sys_root": str(sys_root),
        "thermal": {"exclude": ["zone/*", "acpitz/*"]},
        "gpu": {"nvidia_smi": str(tmp_path / "no-nvidia-smi")},
    }
    config = polled_config(
        tmp_path,
        broker,
        host_id,
        sensors_section,
        process_groups=[{"name": "python", "match_name": ["python*"]}],
    )
    sensors = Service("sensors", config, tmp_path)
    base = f"warden/{host_id}/sensors"
    try:
        thermal = ThermalFact.model_validate_json(probe.wait_for(f"{base}/thermal").payload)
        assert thermal.available and thermal.max_celsius == 45.0
        assert thermal.hottest == "coretemp/Package id 0" and thermal.host == host_id

        gpu = GpuFact.model_validate_json(probe.wait_for(f"{base}/gpu").payload)
        assert not gpu.available and gpu.gpus == []
        assert any(r.startswith("none available") for r in gpu.reasons)

        seen = probe.wait_for(
            f"{base}/resources",
            lambda s: ResourcesFact.model_validate_json(s.payload).machine.cpu_percent is not None,
        )
        resources = ResourcesFact.model_validate_json(seen.payload)
        assert resources.machine.memory_total_bytes
        (group,) = resources.process_groups
        assert sensors.process.pid in group.pids  # the sensors themselves are python
        # The fake /sys has no block devices: disk rates are unknown, and the reason is given.
        assert resources.machine.disk_read_bytes_per_second is None
        assert any("no physical disks" in e for e in resources.errors)
    finally:
        sensors.stop()
    output = sensors.output()
    assert "Traceback" not in output
    assert output.count("gpu.reasons") == 1  # reported once, not on every reading
