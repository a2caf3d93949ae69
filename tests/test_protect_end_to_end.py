"""Protect end to end: real sensors, governor and actuator processes, the real Docker engine
and cgroups. A tier-1 container's own io trigger fires while a tier-3 I/O hog writes; the
hog gets an io limit (in its cgroup file) and loses it once nothing protected stalls."""

from __future__ import annotations

import signal
from pathlib import Path

from host.cgroups.view import detect_layout, process_cgroups
from shared.messages import Applied, IoRate, PressureFact
from tests.support.broker import Mosquitto
from tests.support.disks import docker_disks, limit_file, loop_disk, write_limits
from tests.support.docker_env import Containers
from tests.support.probe import Probe, Seen
from tests.support.processes import Service, run_cleanup, wait_until, write_config
from tests.support.real import missing

# Direct I/O: v1 blkio counts and throttles only what does not go through the page cache.
HOG = ("sh", "-c", "while :; do dd if=/dev/zero of=/hog bs=1M count=64 oflag=direct; done")
# A stream's reads, as a job every 10 ms: each waits on the disk, so the cgroup stalls on io.
STREAM = (
    "sh",
    "-c",
    "while :; do dd if=/dev/zero of=/seg bs=64k count=4 oflag=direct 2>/dev/null; sleep 0.01; done",
)


def stream_and_hog_config(
    tmp_path: Path,
    broker: Mosquitto,
    containers: Containers,
    host_id: str,
    protect: dict[str, object],
) -> Path:
    """The "stream" container in tier 1, the "hog" in tier 3, and only protect acting: the
    host's own pressure on this shared machine must not limit the hog for ADRG's reasons."""
    return write_config(
        tmp_path / "config.yaml",
        {
            "host_id": host_id,
            "mqtt": {"host": broker.host, "port": broker.port},
            "general": {"poll_interval_seconds": 1},
            "tiers": {
                1: {"containers": [containers.name("stream")]},
                3: {"containers": [containers.name("hog")]},
            },
            "io_pressure": {"enabled": False},
            "memory_pressure": {"enabled": False},
            "thermal": {"enabled": False},
            "protect": protect,
            "governor": {"lease_seconds": 10},
            "actuator": {"state_file": str(tmp_path / "state.json"), "startup_grace_seconds": 1},
        },
    )


def test_an_io_hog_is_throttled_when_the_tier1_container_stalls_and_released_after(
    tmp_path: Path, broker: Mosquitto, probe: Probe, containers: Containers, host_id: str
) -> None:
    if not Path("/proc/pressure/io").exists():
        missing("no PSI in this kernel")
    devices = docker_disks()
    stream, hog = containers.run("stream", STREAM), containers.run("hog", HOG)
    layout = detect_layout("/sys/fs/cgroup")
    stream_cg = process_cgroups(layout, "/proc", containers.pid(stream))
    if stream_cg.v2 is None or not (stream_cg.v2 / "io.pressure").exists():
        missing("no cgroup2 io.pressure for containers on this host")
    hog_cg = process_cgroups(layout, "/proc", containers.pid(hog))
    hog_limits = limit_file(hog_cg)
    # The stall-driven part alone: the io yield would cap the hog before any stall.
    protect = {"stall_percent": {"io": 5}, "step_factor": 0.1, "hold_seconds": 2, "io_yield": False}
    cfg = stream_and_hog_config(tmp_path, broker, containers, host_id, protect)
    services = [Service(name, cfg, tmp_path) for name in ("sensors", "governor", "actuator")]
    try:
        # The sensors' pressure fact says the stream's own io trigger fired.
        probe.wait_for(
            f"warden/{host_id}/sensors/pressure",
            lambda s: any(
                f.scope == stream and f.resource == "io"
                for f in PressureFact.model_validate_json(s.payload).fired
            ),
            timeout=30,
        )
        # ... and, from its second reading on, its own stall share over the window.
        probe.wait_for(
            f"warden/{host_id}/sensors/pressure",
            lambda s: any(
                c.id == stream and any(st.resource == "io" for st in c.stall)
                for c in PressureFact.model_validate_json(s.payload).containers
            ),
            timeout=30,
        )

        def hog_applied(seen: Seen) -> bool:
            applied = Applied.model_validate_json(seen.payload)
            mine = [c for c in applied.containers if c.id == hog]
            return bool(mine) and mine[0].io_max is not None

        seen = probe.wait_for(f"warden/{host_id}/applied", hog_applied, timeout=60)
        applied = Applied.model_validate_json(seen.payload)
        (entry,) = [c for c in applied.containers if c.id == hog]
        assert entry.io_max is not None and entry.io_max.on(devices[0]).write_bps is not None
        assert any(r.startswith("protect(io.some_stall_percent > 5") for r in entry.reasons)
        (other,) = [c for c in applied.containers if c.id == stream]
        assert other.io_max is None and not other.paused  # the protected one is never touched
        wait_until(
            lambda: any(d in write_limits(hog_limits) for d in devices),
            timeout=30,
            what="the hog's cgroup file holds the io limit",
        )
        assert containers.state(hog) == "running"  # throttled, not paused

        # The stream ends: nothing protected stalls, the limit is loosened away.
        containers.api.remove_container(stream, force=True)
        wait_until(
            lambda: not write_limits(hog_limits),
            timeout=90,
            what="the hog's io limit lifted",
        )
    finally:
        for service in services:
            service.kill(signal.SIGTERM)


def test_bulk_work_is_capped_on_the_disk_while_the_tier1_container_does_io(
    tmp_path: Path, broker: Mosquitto, probe: Probe, containers: Containers, host_id: str
) -> None:
    """The io yield: the hog is capped before it writes a byte, and uncapped after the hold."""
    devices = docker_disks()
    stream, hog = containers.run("stream", STREAM), containers.run("hog")
    hog_cg = process_cgroups(detect_layout("/sys/fs/cgroup"), "/proc", containers.pid(hog))
    hog_limits = limit_file(hog_cg)
    # The stall-driven steps off, so the cap seen is the yield's.
    protect = {"stall_percent": {"io": 100}, "io_yield_mb_per_sec": 8, "io_yield_hold_seconds": 2}
    cfg = stream_and_hog_config(tmp_path, broker, containers, host_id, protect)

    def hog_entry(seen: Seen) -> bool:
        applied = Applied.model_validate_json(seen.payload)
        return any(c.id == hog and c.io_max is not None for c in applied.containers)

    services = [Service(name, cfg, tmp_path) for name in ("sensors", "governor", "actuator")]
    try:
        seen = probe.wait_for(f"warden/{host_id}/applied", hog_entry, timeout=60)
        (entry,) = [c for c in Applied.model_validate_json(seen.payload).containers if c.id == hog]
        assert entry.io_max is not None
        # The stream writes to its own root, on the disk behind Docker's data: the cap is
        # on that disk, each way.
        cap = entry.io_max.on(devices[0])
        assert cap.write_bps == cap.read_bps == 8 << 20
        assert any(r.startswith("io_yield(protected.io_mb_per_sec > 0.5") for r in entry.reasons)
        wait_until(
            lambda: write_limits(hog_limits) == {devices[0]: str(8 << 20)},
            timeout=30,
            what="the hog's cgroup file holds the yield's cap on the stream's disk",
        )
        assert containers.state(hog) == "running"

        # The stream stops doing I/O: after the hold, the hog has its whole disk again.
        containers.api.pause(stream)
        wait_until(lambda: not write_limits(hog_limits), 60, "the hog's cap lifted")
    finally:
        for service in services:
            service.kill(signal.SIGTERM)


def test_bulk_work_on_another_disk_than_the_stream_s_keeps_its_speed(
    tmp_path: Path, broker: Mosquitto, probe: Probe, containers: Containers, host_id: str
) -> None:
    """The stream reads and writes its media on a disk of its own (a loop device); the hog
    writes to the disk behind Docker's data. The yield caps tier 3 on the stream's disk
    only: the hog's own disk has no limit in its cgroup file."""
    devices = docker_disks()
    with loop_disk(tmp_path) as disk:
        media = {str(disk.mountpoint): {"bind": "/media", "mode": "rw"}}
        on_media = (STREAM[0], STREAM[1], STREAM[2].replace("of=/seg", "of=/media/seg"))
        stream = containers.run("stream", on_media, binds=media)
        hog = containers.run("hog", HOG)
        hog_cg = process_cgroups(detect_layout("/sys/fs/cgroup"), "/proc", containers.pid(hog))
        hog_limits = limit_file(hog_cg)
        protect = {"stall_percent": {"io": 100}, "io_yield_mb_per_sec": 8}
        cfg = stream_and_hog_config(tmp_path, broker, containers, host_id, protect)
        services = [Service(name, cfg, tmp_path) for name in ("sensors", "governor", "actuator")]
        try:

            def hog_capped(seen: Seen) -> bool:
                applied = Applied.model_validate_json(seen.payload)
                return any(c.id == hog and c.io_max is not None for c in applied.containers)

            seen = probe.wait_for(f"warden/{host_id}/applied", hog_capped, timeout=60)
            applied = Applied.model_validate_json(seen.payload)
            (entry,) = [c for c in applied.containers if c.id == hog]
            assert entry.io_max is not None
            assert entry.io_max.on(disk.number).write_bps == 8 << 20
            assert entry.io_max.on(devices[0]) == IoRate()  # its own disk: no limit
            wait_until(
                lambda: write_limits(hog_limits) == {disk.number: str(8 << 20)},
                timeout=30,
                what="the hog's cgroup file caps the stream's disk, and only that",
            )
            (mine,) = [c for c in applied.containers if c.id == stream]
            assert mine.io_max is None
        finally:
            for service in services:
                service.kill(signal.SIGTERM)
            containers.api.remove_container(stream, force=True)
            containers.api.remove_container(hog, force=True)


BUSY = ("sh", "-c", "while :; do :; done")


def cpu_idle_of(containers: Containers, container_id: str) -> Path:
    cg = process_cgroups(detect_layout("/sys/fs/cgroup"), "/proc", containers.pid(container_id))
    path = cg.v2_file("cpu.idle") or cg.v1_file("cpu", "cpu.idle")
    if path is None:
        missing("no cpu.idle on this host (a kernel before 5.15)")
    return path


def test_bulk_work_yields_the_cpu_while_the_tier1_container_runs(
    tmp_path: Path, broker: Mosquitto, probe: Probe, containers: Containers, host_id: str
) -> None:
    """The stream uses the CPU: the tier-3 hog runs idle-class (its cpu.idle file says 1), and
    goes back to the normal class after the hold once the stream stops. Then once more, with
    every service killed while it yields: --cleanup puts the normal class back."""
    stream, hog = containers.run("stream", BUSY), containers.run("hog", BUSY)
    stream_idle, hog_idle = cpu_idle_of(containers, stream), cpu_idle_of(containers, hog)
    # The yield alone: two busy loops on a small machine stall the stream for real, and
    # protect's cpu.max steps would join in.
    protect = {"cpu_yield_hold_seconds": 2, "stall_percent": {"cpu": 100}}
    cfg = stream_and_hog_config(tmp_path, broker, containers, host_id, protect)

    def hog_entry(seen: Seen) -> bool:
        applied = Applied.model_validate_json(seen.payload)
        return any(c.id == hog and c.cpu_idle for c in applied.containers)

    services = [Service(name, cfg, tmp_path) for name in ("sensors", "governor", "actuator")]
    try:
        seen = probe.wait_for(f"warden/{host_id}/applied", hog_entry, timeout=60)
        applied = Applied.model_validate_json(seen.payload)
        (entry,) = [c for c in applied.containers if c.id == hog]
        assert entry.cpu_max is None and not entry.paused  # full speed on what is left
        assert any(r.startswith("cpu_yield(protected.cpu_core_percent > 2") for r in entry.reasons)
        (other,) = [c for c in applied.containers if c.id == stream]
        assert not other.cpu_idle
        wait_until(lambda: hog_idle.read_text().strip() == "1", 10, "the hog runs idle-class")
        assert stream_idle.read_text().strip() == "0"

        # The stream stops using the CPU: after the hold, the hog is back in the normal class.
        containers.api.pause(stream)
        wait_until(lambda: hog_idle.read_text().strip() == "0", 60, "the hog's cpu.idle lifted")
        containers.api.unpause(stream)
        wait_until(lambda: hog_idle.read_text().strip() == "1", 60, "the hog yields again")
    finally:
        # The actuator first: the governor's last will would have it go back to baselines.
        for service in reversed(services):
            service.kill(signal.SIGKILL)
    assert hog_idle.read_text().strip() == "1"  # killed while yielding
    done = run_cleanup(cfg)
    assert done.returncode == 0, done.stderr
    assert hog_idle.read_text().strip() == "0"
