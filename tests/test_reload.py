"""SIGHUP: a valid new config takes effect in the running service, an invalid one is
refused with file, key and reason, and keys read only at start are named."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from shared.config import FileStamp, WardenConfig
from shared.messages import Applied
from shared.reload import ReloadPlan, plan_reload, unchanged
from tests.support.broker import Mosquitto
from tests.support.docker_env import Containers
from tests.support.probe import Probe
from tests.support.processes import Service, wait_until, write_config


def cfg(**data: object) -> WardenConfig:
    return WardenConfig.model_validate({"host_id": "h1", **data})


def test_plan_keeps_restart_only_values_and_names_them() -> None:
    old = cfg(tiers={3: {"containers": ["a*"], "cpu_weight": 100}}, mqtt={"port": 1883})
    new = cfg(
        host_id="h2",
        tiers={3: {"containers": ["a*"], "cpu_weight": 400}},
        mqtt={"port": 1884},
        actuator={"state_file": "/elsewhere.json", "min_memory_high": "128M"},
    )
    plan = plan_reload(old, new, ("actuator.state_file",))
    assert plan.live == ["actuator.min_memory_high", "tiers.3.cpu_weight"]
    assert plan.needs_restart == ["actuator.state_file", "host_id", "mqtt.port"]
    assert plan.config.tiers[3].cpu_weight == 400
    assert plan.config.actuator.min_memory_high == 128 * 1024**2
    assert (plan.config.host_id, plan.config.mqtt.port) == ("h1", 1883)
    assert plan.config.actuator.state_file == old.actuator.state_file
    assert plan_reload(old, old, ()).live == []


def service_config(
    tmp_path: Path, broker: Mosquitto, host_id: str, prefix: str, cpu_weight: int, **extra: object
) -> dict:
    return {
        "host_id": host_id,
        "mqtt": {"host": broker.host, "port": broker.port, **extra.pop("mqtt", {})},  # type: ignore[dict-item]
        "tiers": {3: {"containers": [f"{prefix}-t3*"], "cpu_weight": cpu_weight}},
        "actuator": {"state_file": str(tmp_path / "state.json"), "startup_grace_seconds": 1},
        "notifications": {"outbox_file": str(tmp_path / "outbox.json")},
        **extra,
    }


def hup_and_wait(service: Service, event: str, count: int) -> str:
    service.process.send_signal(signal.SIGHUP)
    wait_until(lambda: service.output().count(event) >= count, what=f"{count} x {event}")
    return service.output()


def applied_weight(probe: Probe, host_id: str, name: str, weight: int, after: float) -> None:
    def has(payload: bytes) -> bool:
        applied = Applied.model_validate_json(payload)
        return any(c.name == name and c.cpu_weight == weight for c in applied.containers)

    probe.wait_for(f"warden/{host_id}/applied", lambda s: has(s.payload), after=after)


def test_actuator_applies_a_new_tier_on_sighup_and_refuses_a_bad_file(
    tmp_path: Path, broker: Mosquitto, probe: Probe, containers: Containers, host_id: str
) -> None:
    # A CpuShares of its own: Warden's weight goes to Docker's record, where it is read back.
    t3 = containers.run("t3", cpu_shares=512)
    name = containers.name("t3")
    path = tmp_path / "config.yaml"
    write_config(path, service_config(tmp_path, broker, host_id, containers.prefix, 100))
    actuator = Service("actuator", path, tmp_path)
    try:
        applied_weight(probe, host_id, name, 100, after=0.0)
        shares_before = containers.api.inspect_container(t3)["HostConfig"]["CpuShares"]

        write_config(
            path,
            service_config(
                tmp_path, broker, host_id, containers.prefix, 400, mqtt={"keepalive_seconds": 45}
            ),
        )
        sent = time.monotonic()
        output = hup_and_wait(actuator, "config.reloaded", 1)
        applied_weight(probe, host_id, name, 400, after=sent)
        shares_after = containers.api.inspect_container(t3)["HostConfig"]["CpuShares"]
        assert shares_after != shares_before  # Docker's record of the container changed
        assert "changed=tiers.3.cpu_weight" in output
        assert "config.restart_needed keys=mqtt.keepalive_seconds" in output

        bad = service_config(tmp_path, broker, host_id, containers.prefix, 400)
        bad["tiers"][3]["cpu_weight"] = 0
        write_config(path, bad)
        output = hup_and_wait(actuator, "config.reload_refused", 1)
        line = next(ln for ln in output.splitlines() if "config.reload_refused" in ln)
        assert f"file={path}" in line and "key=tiers.3.cpu_weight" in line
        assert "greater than or equal to 1" in line
        assert actuator.process.poll() is None
        # Still running on the last good config: a resync writes weight 400 again.
        assert containers.api.inspect_container(t3)["HostConfig"]["CpuShares"] == shares_after
    finally:
        actuator.kill(signal.SIGTERM)


@pytest.mark.parametrize("name", ["governor", "sensors", "notifier"])
def test_every_service_reloads_on_sighup(
    tmp_path: Path, broker: Mosquitto, probe: Probe, host_id: str, name: str
) -> None:
    path = tmp_path / "config.yaml"
    write_config(path, service_config(tmp_path, broker, host_id, "reload", 100))
    service = Service(name, path, tmp_path)
    try:
        probe.wait_for(f"warden/{host_id}/{name}/availability", lambda s: s.text == "online")
        write_config(path, service_config(tmp_path, broker, host_id, "reload", 300))
        output = hup_and_wait(service, "config.reloaded", 1)
        assert "changed=tiers.3.cpu_weight" in output
        path.write_text("tiers: [not, a, mapping\n")
        output = hup_and_wait(service, "config.reload_refused", 1)
        assert f"file={path}" in output
        assert service.process.poll() is None
        assert probe.messages(f"warden/{host_id}/{name}/availability")[-1].text != "offline"
    finally:
        service.kill(signal.SIGTERM)


def replace_config(path: Path, config: dict) -> None:
    """As an editor or `sed -i` saves: a new file renamed over the old one (a new inode)."""
    fresh = path.with_name(f".{path.name}.new")
    write_config(fresh, config)
    os.replace(fresh, path)


STAMP = FileStamp(device=1, inode=10, mtime_ns=100, size=50)


@pytest.mark.parametrize(
    ("live", "restart", "after", "event"),
    [
        (["tiers.3.cpu_weight"], [], STAMP, None),
        ([], ["mqtt.port"], STAMP, None),
        # Nothing changed and the very same file: an edit that never reached this process.
        ([], [], STAMP, "config.reload_unchanged"),
        # Nothing changed in a rewritten file (a new inode, or the same one written again).
        ([], [], FileStamp(device=1, inode=11, mtime_ns=100, size=50), "config.reload_no_change"),
        ([], [], FileStamp(device=1, inode=10, mtime_ns=200, size=50), "config.reload_no_change"),
        ([], [], None, "config.reload_no_change"),
    ],
)
def test_a_reload_that_changes_nothing_says_why(
    live: list[str], restart: list[str], after: FileStamp | None, event: str | None
) -> None:
    plan = ReloadPlan(cfg(), live, restart)
    note = unchanged(plan, STAMP, after)
    assert (note.event if note else None) == event


def test_every_edit_is_read_by_path_and_a_reload_that_changes_nothing_warns(
    tmp_path: Path, broker: Mosquitto, probe: Probe, host_id: str
) -> None:
    path = tmp_path / "config.yaml"
    write_config(path, service_config(tmp_path, broker, host_id, "reload", 100))
    governor = Service("governor", path, tmp_path)
    try:
        probe.wait_for(f"warden/{host_id}/governor/availability", lambda s: s.text == "online")
        output = hup_and_wait(governor, "config.reload_unchanged", 1)
        line = next(ln for ln in output.splitlines() if "config.reload_unchanged" in ln)
        assert "WARNING" in line and "mount its directory" in line

        replace_config(path, service_config(tmp_path, broker, host_id, "reload", 100))
        output = hup_and_wait(governor, "config.reload_no_change", 1)
        assert "WARNING" in next(ln for ln in output.splitlines() if "reload_no_change" in ln)

        replace_config(path, service_config(tmp_path, broker, host_id, "reload", 300))
        output = hup_and_wait(governor, "config.reloaded changed=tiers.3.cpu_weight", 1)

        path.unlink()
        output = hup_and_wait(governor, "config.reload_refused", 1)
        line = next(ln for ln in output.splitlines() if "config.reload_refused" in ln)
        assert "cannot read" in line and f"file={path}" in line
        assert governor.process.poll() is None
    finally:
        governor.kill(signal.SIGTERM)
