"""The actuator's host adapter on the real Docker engine and the real cgroup files."""

from __future__ import annotations

from pathlib import Path

import docker
import pytest

from services.actuator.docker_control import DockerControl, cpu_shares
from services.actuator.host import Host
from services.actuator.pause_ledger import PauseLedger
from services.actuator.plan import Settings, Target
from shared.cgroupfs import ProcessCgroups, detect_layout, process_cgroups
from shared.docker_view import DockerContainer, list_containers
from shared.logs import Log
from shared.messages import CpuMax
from tests.support.docker_env import Containers

MIB = 1024**2
LOG = Log("test.actuator")


@pytest.mark.parametrize(("weight", "shares"), [(1, 2), (100, 2598), (10000, 262144)])
def test_cpu_weight_maps_to_shares_as_runc_maps_back(weight: int, shares: int) -> None:
    assert cpu_shares(weight) == shares
    # runc (cgroup v2): weight = 1 + ((shares - 2) * 9999) / 262142
    assert 1 + ((shares - 2) * 9999) // 262142 == weight


def make_host(api: docker.APIClient, tmp_path: Path, dry_run: bool = False) -> Host:
    return Host(
        DockerControl(api),
        detect_layout("/sys/fs/cgroup"),
        "/proc",
        [],
        PauseLedger(tmp_path / "ledger.json", LOG),
        dry_run,
        LOG,
    )


def observed(api: docker.APIClient, cid: str) -> DockerContainer:
    return next(c for c in list_containers(api) if c.id == cid)


def cgroups_of(containers: Containers, cid: str) -> ProcessCgroups:
    return process_cgroups(detect_layout("/sys/fs/cgroup"), "/proc", containers.pid(cid))


def read_int(path: Path | None) -> int:
    assert path is not None
    return int(path.read_text().split()[-1])


def test_baseline_is_written_and_read_back(
    docker_api, containers: Containers, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    cid = containers.run("base")
    host = make_host(docker_api, tmp_path)
    settings = Settings(
        cpu_weight=100,
        io_weight=100,
        memory_high=256 * MIB,
        memory_max=512 * MIB,
        cpu_max=CpuMax(quota_us=50_000),
    )
    report = host.apply(Target(observed(docker_api, cid), 3, False, settings), None)
    assert report.errors == []
    inspect = docker_api.inspect_container(cid)["HostConfig"]
    assert inspect["CpuShares"] == 2598 and inspect["Memory"] == 512 * MIB
    assert inspect["CpuQuota"] == 50_000
    cg = cgroups_of(containers, cid)
    if cg.v2_file("cpu.weight"):  # a real v2 host
        assert read_int(cg.v2_file("cpu.weight")) == 100
        assert read_int(cg.v2_file("memory.max")) == 512 * MIB
        assert read_int(cg.v2_file("memory.high")) == 256 * MIB
    else:  # hybrid/v1: the v1 files Docker and Warden wrote
        assert read_int(cg.v1_file("cpu", "cpu.shares")) == 2598
        assert read_int(cg.v1_file("cpu", "cpu.cfs_quota_us")) == 50_000
        assert read_int(cg.v1_file("memory", "memory.limit_in_bytes")) == 512 * MIB
        assert read_int(cg.v1_file("memory", "memory.soft_limit_in_bytes")) == 256 * MIB

    # Lifting the CPU limit and changing only what changed.
    relaxed = Settings(100, 100, 256 * MIB, 512 * MIB, cpu_max=None)
    assert host.apply(Target(observed(docker_api, cid), 3, False, relaxed), settings).errors == []
    assert docker_api.inspect_container(cid)["HostConfig"]["CpuQuota"] in (0, -1)


def test_pause_is_recorded_first_and_only_warden_pauses_are_undone(
    docker_api,
    containers: Containers,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    ours, theirs = containers.run("ours"), containers.run("theirs")
    host = make_host(docker_api, tmp_path)
    base = Settings(100, 100, None, None)
    assert host.apply(Target(observed(docker_api, ours), 3, True, base), base).errors == []
    assert containers.state(ours) == "paused"
    assert ours in PauseLedger(tmp_path / "ledger.json", LOG)  # on disk, for a restarted actuator

    docker_api.pause(theirs)  # paused by hand, not by Warden
    for cid in (ours, theirs):
        host.apply(Target(observed(docker_api, cid), 3, False, base), base)
    assert containers.state(ours) == "running"
    assert containers.state(theirs) == "paused"
    assert ours not in PauseLedger(tmp_path / "ledger.json", LOG)


def test_dry_run_touches_nothing(docker_api, containers: Containers, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cid = containers.run("dry")
    before = docker_api.inspect_container(cid)["HostConfig"]
    host = make_host(docker_api, tmp_path, dry_run=True)
    settings = Settings(10, 10, 64 * MIB, 128 * MIB, CpuMax(quota_us=10_000))
    assert host.apply(Target(observed(docker_api, cid), 3, True, settings), None).errors == []
    after = docker_api.inspect_container(cid)["HostConfig"]
    assert containers.state(cid) == "running"
    assert {k: after[k] for k in ("CpuShares", "Memory", "CpuQuota")} == {
        k: before[k] for k in ("CpuShares", "Memory", "CpuQuota")
    }
    assert not (tmp_path / "ledger.json").exists()


def test_a_vanished_container_is_an_error_in_the_report_not_a_crash(
    docker_api,
    containers: Containers,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    cid = containers.run("gone")
    seen = observed(docker_api, cid)
    docker_api.remove_container(cid, force=True)
    report = make_host(docker_api, tmp_path).apply(
        Target(seen, 3, True, Settings(10, 10, None, None)), None
    )
    assert report.errors and any("docker update" in e or "pause" in e for e in report.errors)
