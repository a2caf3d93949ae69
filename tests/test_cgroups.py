"""cgroup discovery and writes: v2 files on a temp tree, v1 files and discovery for real."""

from __future__ import annotations

from pathlib import Path

import pytest

from host.cgroups import control as cgroup_files
from host.cgroups.view import ProcessCgroups, detect_layout, process_cgroups, resident_bytes
from shared.messages import IoMax, IoRate
from tests.support.disks import docker_disks, limit_file, loop_disk, write_limits
from tests.support.docker_env import Containers
from tests.support.real import missing, not_applicable

MIB = 1024**2


def make_v2_tree(root: Path, cgroup: str, files: dict[str, str]) -> Path:
    (root / "cgroup.controllers").write_text("cpu io memory pids\n")
    directory = root / cgroup.lstrip("/")
    directory.mkdir(parents=True)
    for name, content in files.items():
        (directory / name).write_text(content)
    return directory


def fake_proc(root: Path, pid: int, text: str) -> Path:
    (root / str(pid)).mkdir(parents=True)
    (root / str(pid) / "cgroup").write_text(text)
    return root


V2_FILES = {
    "memory.high": "max\n",
    "memory.max": "max\n",
    "io.weight": "default 100\n",
    "io.max": "",
    "memory.stat": "anon 4096\nfile 8192\n",
    "cgroup.freeze": "0\n",
    "cpu.idle": "0\n",
}


@pytest.mark.parametrize(
    "cgroup",
    [
        "/system.slice/docker-0123abcd.scope",
        "/docker/0123abcd",
        "/machine.slice/libpod-0123abcd.scope",
    ],
)
def test_v2_layouts_are_found_from_proc_pid_cgroup(tmp_path: Path, cgroup: str) -> None:
    root = tmp_path / "cg"
    root.mkdir()
    directory = make_v2_tree(root, cgroup, V2_FILES)
    proc = fake_proc(tmp_path / "proc", 42, f"0::{cgroup}\n")
    layout = detect_layout(root)
    assert layout.kind == "v2"
    cg = process_cgroups(layout, proc, 42)
    assert cg.v2 == directory and cg.v1 == {}
    assert resident_bytes(cg) == 4096


def test_v2_control_files_are_written_as_the_kernel_expects(tmp_path: Path) -> None:
    directory = make_v2_tree(tmp_path, "/docker/x", V2_FILES)
    cg = ProcessCgroups(directory, {})
    cgroup_files.set_memory_high(cg, 512 * MIB)
    assert (directory / "memory.high").read_text() == f"{512 * MIB}\n"
    cgroup_files.set_memory_high(cg, None)
    assert (directory / "memory.high").read_text() == "max\n"
    cgroup_files.set_io_weight(cg, 10)
    assert (directory / "io.weight").read_text() == "default 10\n"
    cgroup_files.set_io_max(cg, ["8:0"], IoMax(read_bps=5 * MIB, write_bps=2 * MIB))
    assert (directory / "io.max").read_text() == f"8:0 rbps={5 * MIB} wbps={2 * MIB}\n"
    cgroup_files.set_io_max(cg, ["8:0"], None)
    assert (directory / "io.max").read_text() == "8:0 rbps=max wbps=max riops=max wiops=max\n"
    cgroup_files.set_cpu_idle(cg, True)
    assert (directory / "cpu.idle").read_text() == "1\n"
    cgroup_files.set_cpu_idle(cg, False)
    assert (directory / "cpu.idle").read_text() == "0\n"


def test_a_missing_controller_is_unsupported_not_an_error(tmp_path: Path) -> None:
    directory = make_v2_tree(tmp_path, "/docker/x", {"cgroup.freeze": "0\n"})
    cg = ProcessCgroups(directory, {})
    for write in (
        lambda: cgroup_files.set_memory_high(cg, MIB),
        lambda: cgroup_files.set_io_weight(cg, 10),
        lambda: cgroup_files.set_io_max(cg, ["8:0"], None),
        lambda: cgroup_files.set_io_max(cg, [], None),
        lambda: cgroup_files.set_cpu_idle(cg, True),
    ):
        with pytest.raises(cgroup_files.Unsupported):
            write()
    # Leaving a kernel without cpu.idle at its normal class is nothing to do.
    assert cgroup_files.set_cpu_idle(cg, False) is None


def test_restore_puts_cpu_idle_back_even_from_a_record_without_it(tmp_path: Path) -> None:
    """A record written before Warden wrote cpu.idle: its original is the kernel's 0."""
    directory = make_v2_tree(tmp_path, "/docker/x", V2_FILES)
    cg = ProcessCgroups(directory, {})
    cgroup_files.set_cpu_idle(cg, True)
    assert cgroup_files.restore(cg, {"v2:memory.high": "max\n"}) == []
    assert (directory / "cpu.idle").read_text() == "0\n"
    cgroup_files.set_cpu_idle(cg, True)
    assert cgroup_files.restore(cg, cgroup_files.snapshot(cg)) == []
    assert (directory / "cpu.idle").read_text() == "1\n"  # recorded idle stays idle


def test_hybrid_layout_on_a_temp_tree(tmp_path: Path) -> None:
    root = tmp_path / "cg"
    for controller in ("cpu,cpuacct", "memory", "blkio", "freezer"):
        (root / controller / "docker" / "abc").mkdir(parents=True)
    (root / "unified" / "docker" / "abc").mkdir(parents=True)
    (root / "unified" / "cgroup.controllers").write_text("")
    (root / "memory" / "docker" / "abc" / "memory.stat").write_text("rss 10\ntotal_rss 20\n")
    proc = fake_proc(
        tmp_path / "proc", 7, "7:memory:/docker/abc\n2:cpu,cpuacct:/docker/abc\n0::/docker/abc\n"
    )
    layout = detect_layout(root)
    assert layout.kind == "hybrid"
    cg = process_cgroups(layout, proc, 7)
    assert cg.v2 == root / "unified" / "docker" / "abc"
    assert cg.v1["cpu"] == cg.v1["cpuacct"] == root / "cpu,cpuacct" / "docker" / "abc"
    assert resident_bytes(cg) == 20
    assert cgroup_files.v1_blkio_weight(1) == 10 and cgroup_files.v1_blkio_weight(10000) == 1000


# --- on this machine's real cgroups, with a real container ------------------------------------


@pytest.fixture
def real_cgroups(containers: Containers) -> tuple[str, ProcessCgroups]:
    cid = containers.run("cg")
    layout = detect_layout("/sys/fs/cgroup")
    return cid, process_cgroups(layout, "/proc", containers.pid(cid))


def test_real_container_cgroups_are_found_from_the_kernel(
    real_cgroups: tuple[str, ProcessCgroups],
) -> None:
    cid, cg = real_cgroups
    dirs = [d for d in [cg.v2, *cg.v1.values()] if d is not None]
    assert dirs and all(d.is_dir() and cid in str(d) for d in dirs)
    assert resident_bytes(cg) is not None


def test_real_memory_high_is_written_and_read_back(
    real_cgroups: tuple[str, ProcessCgroups],
) -> None:
    _, cg = real_cgroups
    path = cgroup_files.set_memory_high(cg, 256 * MIB)
    assert int(path.read_text()) == 256 * MIB
    cgroup_files.set_memory_high(cg, None)
    text = path.read_text().strip()
    assert text == "max" or int(text) > 2**60


def test_real_io_weight_is_written_and_read_back(real_cgroups: tuple[str, ProcessCgroups]) -> None:
    _, cg = real_cgroups
    try:
        path = cgroup_files.set_io_weight(cg, 500)
    except cgroup_files.Unsupported as exc:
        if not any("bfq" in f.read_text() for f in Path("/sys/block").glob("*/queue/scheduler")):
            # The kernel keeps io weights only under BFQ: with mq-deadline alone (as on some
            # machines here) there is nothing to write, and nothing is missing either.
            not_applicable(f"no disk here offers the BFQ scheduler, so no io weight: {exc}")
        raise
    text = path.read_text().split()
    assert text[-1] in ("500", str(cgroup_files.v1_blkio_weight(500)))


def test_real_io_max_is_written_and_read_back(real_cgroups: tuple[str, ProcessCgroups]) -> None:
    _, cg = real_cgroups
    devices = docker_disks()
    path = cgroup_files.set_io_max(cg, devices, IoMax(read_bps=5 * MIB, write_bps=2 * MIB))
    assert f"{devices[0]} {5 * MIB}" in path.read_text() or f"rbps={5 * MIB}" in path.read_text()
    cgroup_files.set_io_max(cg, devices, None)
    assert str(5 * MIB) not in path.read_text()


def test_real_io_max_on_a_named_disk_only_and_lifted_back_to_the_original(
    real_cgroups: tuple[str, ProcessCgroups], tmp_path: Path
) -> None:
    """A limit for one disk (a stream's) leaves the disk behind the container's data alone;
    lifting it gives the disk its original rule back, or none."""
    _, cg = real_cgroups
    data = docker_disks()
    with loop_disk(tmp_path) as disk:
        path = limit_file(cg)
        stream_disk = IoMax(disks={disk.number: IoRate(write_bps=2 * MIB)})
        cgroup_files.set_io_max(cg, data, stream_disk)
        assert write_limits(path) == {disk.number: str(2 * MIB)}
        cgroup_files.set_io_max(cg, data, IoMax(write_bps=8 * MIB))
        assert write_limits(path) == {d: str(8 * MIB) for d in data}  # the named disk lifted
        cgroup_files.set_io_max(cg, data, stream_disk)
        v2 = cg.v2_file("io.max") is not None
        key = cgroup_files.v2_key(path.name) if v2 else cgroup_files.v1_key("blkio", path.name)
        rule = f"{disk.number} wbps={MIB}" if v2 else f"{disk.number} {MIB}"
        cgroup_files.set_io_max(cg, data, None, {key: rule + "\n"})
        assert write_limits(path) == {disk.number: str(MIB)}
        assert cgroup_files.restore(cg, {key: ""}) == []
        assert write_limits(path) == {}


def test_real_cpu_idle_is_written_and_read_back(real_cgroups: tuple[str, ProcessCgroups]) -> None:
    _, cg = real_cgroups
    try:
        path = cgroup_files.set_cpu_idle(cg, True)
    except cgroup_files.Unsupported as exc:
        missing(f"this host has no cpu.idle: {exc}")
    assert path is not None and path.read_text().strip() == "1"
    original = {"v1:cpu:cpu.idle": "0\n"} if cg.v2_file("cpu.idle") is None else {}
    assert cgroup_files.restore(cg, original) == []
    assert path.read_text().strip() == "0"


def test_real_v2_hierarchy_has_freeze_and_pressure_files(
    real_cgroups: tuple[str, ProcessCgroups],
) -> None:
    _, cg = real_cgroups
    if cg.v2 is None:
        missing("no cgroup2 hierarchy on this host")
    assert cg.v2_file("cgroup.freeze") is not None and cg.v2_file("memory.pressure") is not None
