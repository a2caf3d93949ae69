"""The actuator's host adapter on the real Docker engine and the real cgroup files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import docker
import pytest

from host.cgroups.view import ProcessCgroups, detect_layout, process_cgroups
from host.docker.control import cpu_shares
from host.docker.view import DockerContainer, list_containers
from services.actuator.applier import Applier
from services.actuator.plan import Settings, Target
from services.actuator.restore import cleanup
from services.actuator.state_store import StateStore
from shared.logs import Log
from shared.messages import CpuMax, IoMax, IoRate
from tests.support.disks import limit_file, loop_disk, write_limits
from tests.support.docker_env import Containers, engine
from tests.support.logs import fields_of

MIB = 1024**2
LOG = Log("test.actuator")


@pytest.mark.parametrize(("weight", "shares"), [(1, 2), (100, 2598), (10000, 262144)])
def test_cpu_weight_maps_to_shares_as_runc_maps_back(weight: int, shares: int) -> None:
    assert cpu_shares(weight) == shares
    # runc (cgroup v2): weight = 1 + ((shares - 2) * 9999) / 262142
    assert 1 + ((shares - 2) * 9999) // 262142 == weight


def make_host(api: docker.APIClient, tmp_path: Path, dry_run: bool = False) -> Applier:
    store = StateStore(None if dry_run else tmp_path / "state.json", LOG)
    root = api.info()["DockerRootDir"]
    return Applier(engine(), detect_layout("/sys/fs/cgroup"), "/proc", root, store, dry_run, LOG)


def observed(api: docker.APIClient, cid: str) -> DockerContainer:
    return next(c for c in list_containers(engine().api) if c.id == cid)


def cgroups_of(containers: Containers, cid: str) -> ProcessCgroups:
    return process_cgroups(detect_layout("/sys/fs/cgroup"), "/proc", containers.pid(cid))


def read_int(path: Path | None) -> int:
    assert path is not None
    return int(path.read_text().split()[-1])


OWN_LIMITS = {"mem_limit": 300 * MIB, "memswap_limit": 600 * MIB, "cpu_shares": 512}


@pytest.mark.parametrize("created_with", [{}, OWN_LIMITS], ids=["docker-defaults", "own-limits"])
def test_baseline_is_written_and_read_back(
    docker_api: docker.APIClient,
    containers: Containers,
    tmp_path: Path,
    created_with: dict[str, int],
) -> None:
    cid = containers.run("base", **created_with)
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
    if created_with:
        # The container had values of its own in Docker's record: Warden's go there too,
        # and a clean stop can give Docker its own back through the same API.
        assert inspect["CpuShares"] == 2598 and inspect["Memory"] == 512 * MIB
    else:
        # Docker's record had none, and no API call could unset one again: the
        # baseline lives in the cgroup files only, and `docker inspect` is untouched.
        assert inspect["CpuShares"] == 0 and inspect["Memory"] == 0
    # A throttle lives in the cgroup only: never in Docker's record, where a
    # restart would bring it back after the reason for it is gone.
    assert inspect["CpuQuota"] == 0
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
    quota = cg.v2_file("cpu.max") or cg.v1_file("cpu", "cpu.cfs_quota_us")
    assert quota is not None and quota.read_text().split()[0] in ("max", "-1")

    # A tier without memory_max: the container's own limit, or none, is back.
    unlimited = Settings(100, 100, 256 * MIB, None)
    assert host.apply(Target(observed(docker_api, cid), 3, False, unlimited), relaxed).errors == []
    inspect = docker_api.inspect_container(cid)["HostConfig"]
    assert inspect["Memory"] == created_with.get("mem_limit", 0)
    limit = cg.v2_file("memory.max") or cg.v1_file("memory", "memory.limit_in_bytes")
    assert limit is not None
    own = created_with.get("mem_limit")
    assert limit.read_text().strip() in ((str(own),) if own else ("max", "9223372036854771712"))


def test_a_pause_seen_through_a_stale_list_stays_ours(
    docker_api: docker.APIClient, containers: Containers, tmp_path: Path
) -> None:
    """Found by the chaos test: a second reconcile, working from a container list taken
    before the first one's pause, pauses again; Docker says "already paused". The
    container is Warden's to unpause all the same, never one left paused for good."""
    cid = containers.run("t3")
    host = make_host(docker_api, tmp_path)
    base = Settings(100, 100, None, None)
    before = observed(docker_api, cid)  # state "running"
    assert host.apply(Target(before, 3, True, base), base).errors == []
    assert host.apply(Target(before, 3, True, base), base).errors == []
    assert containers.state(cid) == "paused"
    assert StateStore(tmp_path / "state.json", LOG).paused_by_warden(cid)
    assert host.apply(Target(observed(docker_api, cid), 3, False, base), base).errors == []
    assert containers.state(cid) == "running"


def test_pause_is_recorded_first_and_only_warden_pauses_are_undone(
    docker_api: docker.APIClient, containers: Containers, tmp_path: Path
) -> None:
    ours, theirs = containers.run("ours"), containers.run("theirs")
    host = make_host(docker_api, tmp_path)
    base = Settings(100, 100, None, None)
    assert host.apply(Target(observed(docker_api, ours), 3, True, base), base).errors == []
    assert containers.state(ours) == "paused"
    # On disk, for a restarted actuator:
    assert StateStore(tmp_path / "state.json", LOG).paused_by_warden(ours)

    docker_api.pause(theirs)  # paused by hand, not by Warden
    for cid in (ours, theirs):
        host.apply(Target(observed(docker_api, cid), 3, False, base), base)
    assert containers.state(ours) == "running"
    assert containers.state(theirs) == "paused"
    assert not StateStore(tmp_path / "state.json", LOG).paused_by_warden(ours)


def test_a_first_pause_comes_before_the_bookkeeping_and_the_originals_follow(
    docker_api: docker.APIClient, containers: Containers, tmp_path: Path
) -> None:
    cid = containers.run("first")
    host = make_host(docker_api, tmp_path)
    seen = observed(docker_api, cid)
    calls: list[str] = []
    api = host.docker.api
    pause, inspect = api.pause, api.inspect_container

    def noted(name: str, call: Callable[[str], object]) -> Callable[[str], object]:
        def noting(container: str) -> object:
            calls.append(name)
            return call(container)

        return noting

    api.pause = noted("pause", pause)
    api.inspect_container = noted("inspect", inspect)
    try:
        settings = Settings(100, 100, None, None, cpu_max=CpuMax(quota_us=50_000))
        assert host.apply(Target(seen, 3, True, settings), None).errors == []
    finally:
        api.pause, api.inspect_container = pause, inspect
    assert calls[0] == "pause" and "inspect" in calls
    assert containers.state(cid) == "paused"
    store = StateStore(tmp_path / "state.json", LOG)
    # The originals were read before the cpu.max write: the record is complete.
    assert store.paused_by_warden(cid) and store.recorded(cid)


def test_dry_run_touches_nothing(
    docker_api: docker.APIClient, containers: Containers, tmp_path: Path
) -> None:
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
    assert not (tmp_path / "state.json").exists()


def test_a_vanished_container_is_an_error_in_the_report_not_a_crash(
    docker_api: docker.APIClient, containers: Containers, tmp_path: Path
) -> None:
    cid = containers.run("gone")
    seen = observed(docker_api, cid)
    docker_api.remove_container(cid, force=True)
    report = make_host(docker_api, tmp_path).apply(
        Target(seen, 3, True, Settings(10, 10, None, None)), None
    )
    assert report.errors and "No such container" in report.errors[0]


# The controls a squeeze writes, named as cgroup v1 (cpu.shares, cpu.cfs_quota_us,
# memory.limit_in_bytes) and v2 (cpu.weight, cpu.max, memory.max, memory.high) name them.
SQUEEZED_CONTROLS = (
    "cpu.shares",
    "cfs_quota_us",
    "memory.limit_in_bytes",
    "cpu.weight",
    "cpu.max",
    "memory.max",
    "memory.high",
)


def control_files(containers: Containers, cid: str) -> dict[str, str]:
    from host.cgroups.control import snapshot

    return snapshot(cgroups_of(containers, cid))


@pytest.mark.parametrize("created_with", [{}, OWN_LIMITS], ids=["docker-defaults", "own-limits"])
def test_cleanup_puts_every_value_back(
    docker_api: docker.APIClient,
    containers: Containers,
    tmp_path: Path,
    created_with: dict[str, int],
) -> None:
    cid = containers.run("restore", **created_with)
    files_before = control_files(containers, cid)
    docker_before = docker_api.inspect_container(cid)["HostConfig"]
    host = make_host(docker_api, tmp_path)
    squeeze = Settings(
        10,
        10,
        96 * MIB,
        128 * MIB,
        CpuMax(quota_us=20_000),
        IoMax(read_bps=5 * MIB, write_bps=2 * MIB),
    )
    assert host.apply(Target(observed(docker_api, cid), 3, True, squeeze), None).errors == []
    assert containers.state(cid) == "paused"
    changed = control_files(containers, cid)
    # What the squeeze must have changed, by its v1 or v2 name: the check is empty (and
    # proves nothing) unless this host's files are among them.
    squeezed = {k for k in files_before if k.endswith(SQUEEZED_CONTROLS)}
    assert len(squeezed) >= 3, f"no squeezed control found among {sorted(files_before)}"
    assert {k for k in changed if changed[k] != files_before[k]} >= squeezed

    failures = cleanup(host.store, engine(), detect_layout("/sys/fs/cgroup"), "/proc", LOG)
    assert failures == []
    assert containers.state(cid) == "running"
    assert control_files(containers, cid) == files_before
    # Docker's record as before Warden: its own values back through the API, and the
    # unset ones never touched.
    assert docker_api.inspect_container(cid)["HostConfig"] == docker_before
    assert StateStore(tmp_path / "state.json", LOG).items() == []


def test_a_limit_on_a_named_disk_gives_the_container_s_own_rule_back_when_lifted(
    docker_api: docker.APIClient, containers: Containers, tmp_path: Path
) -> None:
    """The container was created with a write limit of its own on a disk (Docker's
    --device-write-bps). A limit Warden names for that disk replaces it while it holds,
    and lifting it puts the container's own back, not none; a named disk this host does
    not have is nothing to limit."""
    with loop_disk(tmp_path) as disk:
        own = [{"Path": disk.device, "Rate": 3 * MIB}]
        cid = containers.run("own-rule", device_write_bps=own)
        path = limit_file(cgroups_of(containers, cid))
        assert write_limits(path) == {disk.number: str(3 * MIB)}
        host = make_host(docker_api, tmp_path)
        rate = IoRate(read_bps=MIB, write_bps=MIB)
        limited = Settings(
            100, 100, None, None, io_max=IoMax(disks={disk.number: rate, "259:4095": rate})
        )
        target = Target(observed(docker_api, cid), 3, False, limited)
        assert host.apply(target, None).errors == []
        assert write_limits(path) == {disk.number: str(MIB)}
        lifted = Settings(100, 100, None, None)
        target = Target(observed(docker_api, cid), 3, False, lifted)
        assert host.apply(target, limited).errors == []
        assert write_limits(path) == {disk.number: str(3 * MIB)}
        containers.api.remove_container(cid, force=True)


def test_a_docker_record_an_older_warden_wrote_is_named_not_hidden(
    docker_api: docker.APIClient,
    containers: Containers,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Before Warden kept out of Docker's unset fields it wrote its tier values there, and
    Docker cannot unset them through its API: cleanup puts the cgroup files back and says
    which of Docker's fields stay, and how to clear them."""
    cid = containers.run("legacy")
    host = make_host(docker_api, tmp_path)
    assert (
        host.apply(
            Target(observed(docker_api, cid), 3, False, Settings(10, 10, None, None)), None
        ).errors
        == []
    )
    docker_api.update_container(cid, cpu_shares=cpu_shares(10))  # as the older Warden did
    failures = cleanup(host.store, engine(), detect_layout("/sys/fs/cgroup"), "/proc", LOG)
    assert failures == []
    kept = [r for r in caplog.records if r.getMessage() == "cleanup.docker_record_kept"]
    assert kept and fields_of(kept[0])["fields"] == f"CpuShares={cpu_shares(10)}"
