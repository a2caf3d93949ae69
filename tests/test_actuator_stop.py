"""How the actuator stops, on the real engine: a deliberate stop (SIGTERM) with
--cleanup-on-stop leaves every container and process as Warden found it, Docker's
record included; a crash (SIGKILL) leaves Warden's values and their record, so the
next start carries on and a later clean stop still finds the originals."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from host.cgroups.control import snapshot
from host.cgroups.view import detect_layout, process_cgroups
from host.processes.view import is_stopped, read_identity
from services.actuator.state_store import StateStore
from shared.logs import Log
from shared.messages import ContainerIntent, DesiredState, ProcessGroupIntent, Reason
from tests.support.broker import Mosquitto
from tests.support.docker_env import Containers
from tests.support.probe import Probe
from tests.support.processes import Service, wait_until, write_config

MIB = 1024**2
OWN_LIMITS = {"mem_limit": 300 * MIB, "memswap_limit": 600 * MIB, "cpu_shares": 512}
DOCKER_KEYS = ("CpuShares", "Memory", "MemorySwap", "CpuQuota", "CpuPeriod", "BlkioWeight")


@pytest.fixture
def encoder(tmp_path: Path) -> Iterator[tuple[str, int]]:
    """A bare process a process group matches by name."""
    name = "wenc" + uuid.uuid4().hex[:6]
    binary = tmp_path / name
    shutil.copy(shutil.which("sleep") or "/bin/sleep", binary)
    process = subprocess.Popen([str(binary), "600"])
    wait_until(lambda: read_identity("/proc", process.pid) is not None, what="the encoder")
    yield name, process.pid
    process.send_signal(signal.SIGCONT)
    process.kill()
    process.wait(10)


def config(tmp_path: Path, broker: Mosquitto, host_id: str, prefix: str, encoder: str) -> Path:
    return write_config(
        tmp_path / "config.yaml",
        {
            "host_id": host_id,
            "mqtt": {"host": broker.host, "port": broker.port},
            "tiers": {
                3: {
                    "containers": [f"{prefix}-t3*"],
                    "cpu_weight": 10,
                    "memory_high": "200M",
                    "memory_max": "256M",
                }
            },
            "process_groups": [{"name": "encoders", "match_name": [encoder], "nice": 15}],
            "actuator": {
                "state_file": str(tmp_path / "state.json"),
                "startup_grace_seconds": 1,
                "process_scan_seconds": 0.5,
            },
        },
    )


def pause_all(host_id: str, *names: str) -> str:
    return DesiredState(
        host=host_id,
        seq=1,
        lease_seconds=60,
        containers={
            n: ContainerIntent(tier=3, paused=True, reasons=[Reason(rule="test")]) for n in names
        },
        process_groups={"encoders": ProcessGroupIntent(paused=True, reasons=[Reason(rule="test")])},
    ).model_dump_json()


def marks(containers: Containers, cid: str) -> tuple[dict[str, str], dict[str, object]]:
    """What an uninstall must leave as before: the cgroup files and Docker's record."""
    pid = containers.pid(cid)
    files = snapshot(process_cgroups(detect_layout("/sys/fs/cgroup"), "/proc", pid))
    host_config = containers.api.inspect_container(cid)["HostConfig"]
    return files, {k: host_config[k] for k in DOCKER_KEYS}


def start_and_pause(
    probe: Probe, host_id: str, containers: Containers, actuator: Service, pid: int
) -> None:
    probe.wait_for(f"warden/{host_id}/actuator/availability", lambda s: s.text == "online")
    probe.publish(
        f"warden/{host_id}/desired",
        pause_all(host_id, containers.name("t3"), containers.name("t3-own")),
    )
    for suffix in ("t3", "t3-own"):
        cid = containers.api.inspect_container(containers.name(suffix))["Id"]
        wait_until(containers.in_state(cid, "paused"), what=f"{suffix} paused")
    wait_until(lambda: is_stopped("/proc", pid), what="the encoder stopped")
    assert actuator.process.poll() is None


def test_a_deliberate_stop_leaves_everything_as_before_warden(
    tmp_path: Path,
    broker: Mosquitto,
    probe: Probe,
    containers: Containers,
    host_id: str,
    encoder: tuple[str, int],
) -> None:
    name, pid = encoder
    ids = [containers.run("t3"), containers.run("t3-own", **OWN_LIMITS)]
    before = {cid: marks(containers, cid) for cid in ids}
    nice_before = os.getpriority(os.PRIO_PROCESS, pid)
    cfg = config(tmp_path, broker, host_id, containers.prefix, name)
    actuator = Service("actuator", cfg, tmp_path, "--cleanup-on-stop")
    try:
        start_and_pause(probe, host_id, containers, actuator, pid)
        assert os.getpriority(os.PRIO_PROCESS, pid) == 15
        for cid in ids:
            assert marks(containers, cid)[0] != before[cid][0], "the tier limits were written"
        # The tier baselines went into Docker's record where it had values of its own,
        # and nowhere near it where it had none (no API call could unset them again).
        assert marks(containers, ids[1])[1] != before[ids[1]][1]
        assert marks(containers, ids[0])[1] == before[ids[0]][1]
    finally:
        assert actuator.stop() == 0
    for cid in ids:
        assert containers.state(cid) == "running"
        assert marks(containers, cid) == before[cid]
    assert not is_stopped("/proc", pid)
    assert os.getpriority(os.PRIO_PROCESS, pid) == nice_before
    output = actuator.output()
    for suffix in ("t3", "t3-own"):
        assert f"cleanup.restored container={containers.name(suffix)}" in output
    assert "stop.cleaned_up failures=0" in output
    store = StateStore(tmp_path / "state.json", Log("test"))
    assert store.items() == [] and store.process_items() == []


def test_a_crash_keeps_the_baselines_and_their_originals_for_the_next_start(
    tmp_path: Path,
    broker: Mosquitto,
    probe: Probe,
    containers: Containers,
    host_id: str,
    encoder: tuple[str, int],
) -> None:
    name, pid = encoder
    ids = [containers.run("t3"), containers.run("t3-own", **OWN_LIMITS)]
    before = {cid: marks(containers, cid) for cid in ids}
    cfg = config(tmp_path, broker, host_id, containers.prefix, name)
    actuator = Service("actuator", cfg, tmp_path, "--cleanup-on-stop")
    try:
        start_and_pause(probe, host_id, containers, actuator, pid)
        limited = {cid: marks(containers, cid) for cid in ids}
    finally:
        actuator.kill(signal.SIGKILL)
    # Nothing put back: Warden's values, and the record of what was there before.
    for cid in ids:
        assert marks(containers, cid) == limited[cid]
    recorded = dict(StateStore(tmp_path / "state.json", Log("test")).items())
    assert set(recorded) == set(ids)

    actuator = Service("actuator", cfg, tmp_path, "--cleanup-on-stop")
    try:
        # No live desired state: the restarted actuator lifts the pauses and keeps the
        # tier baselines, without taking them for originals.
        for cid in ids:
            wait_until(containers.in_state(cid, "running"), what="unpaused")
        wait_until(lambda: not is_stopped("/proc", pid), what="the encoder continued")
        for cid in ids:
            assert marks(containers, cid)[1] == limited[cid][1]
        again = dict(StateStore(tmp_path / "state.json", Log("test")).items())
        assert {cid: r.docker for cid, r in again.items()} == {
            cid: r.docker for cid, r in recorded.items()
        }
    finally:
        assert actuator.stop() == 0
    for cid in ids:
        assert marks(containers, cid) == before[cid]
