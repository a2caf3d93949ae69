"""Bare process groups: matching, nice/ionice/affinity, SIGSTOP/SIGCONT and cgroup.freeze.

On real processes this test starts (copies of sleep under a unique name), on
this machine's real cgroup2 hierarchy for freezing.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from host.cgroups.view import CgroupLayout, detect_layout, process_cgroups
from host.processes.control import ProcessControl
from host.processes.freezer import OWN_CGROUPS
from host.processes.ioprio import ioprio_get, ioprio_value
from host.processes.ledger import ProcessRecord
from host.processes.plan import GroupTarget
from host.processes.restore import restore_processes
from host.processes.view import (
    ProcessIdentity,
    find_group_processes,
    group_of,
    group_trees,
    is_stopped,
    read_identity,
)
from services.actuator.state_store import StateStore
from shared.config.model import ProcessGroup
from shared.logs import Log
from shared.messages import (
    DesiredState,
    GovernorMemory,
    HostUsage,
    ProcessGroupIntent,
    ProcessGroupUsage,
    Reason,
    ResourcesFact,
    ThermalFact,
)
from tests.support.broker import Mosquitto
from tests.support.logs import fields_of
from tests.support.probe import Probe
from tests.support.processes import (
    CLEANUP_COMMANDS,
    Service,
    run_cleanup,
    wait_until,
    write_config,
)
from tests.support.real import missing

LOG = Log("test.processes")
ENCODERS = ProcessGroup(
    name="encoders", match_name=["ffmpeg*", "HandBrake*"], match_cmdline=[r"\btdarr-worker\b"]
)
BACKUP = ProcessGroup(name="backup", match_cmdline=[r"restic\s+backup", r"kopia .*snapshot"])
PYTHON = ProcessGroup(name="anything-python", match_name=["python*"])


@pytest.mark.parametrize(
    ("comm", "argv", "group"),
    [
        ("ffmpeg", ["/usr/bin/ffmpeg", "-i", "x"], "encoders"),
        # an earlier group wins: this python3 runs a tdarr worker
        ("python3", ["python3", "/opt/tdarr-worker", "--node"], "encoders"),
        ("python3", ["python3", "-m", "http.server"], "anything-python"),
        # comm is cut at 15 characters; argv[0]'s basename is not
        ("HandBrakeCLI", ["/usr/bin/HandBrakeCLI"], "encoders"),
        ("sleep", ["/usr/bin/ffmpeg-wrapper"], "encoders"),
        ("restic", ["restic", "backup", "/data"], "backup"),
        ("restic", ["restic", "snapshots"], None),
        ("kopia", ["/usr/bin/kopia", "snapshot", "create"], "backup"),
        ("bash", ["bash", "-c", "echo tdarr-workers"], None),  # a word boundary
        ("Ffmpeg", ["Ffmpeg"], None),  # globs are case-sensitive
        ("bash", [], None),  # a kernel thread or a zombie: no command line
    ],
)
def test_group_matching(comm: str, argv: list[str], group: str | None) -> None:
    assert group_of(comm, argv, [ENCODERS, BACKUP, PYTHON]) == group


def test_first_matching_group_wins() -> None:
    groups = [
        ProcessGroup(name="a", match_cmdline=["ffmpeg"]),
        ProcessGroup(name="b", match_name=["ffmpeg"]),
    ]
    assert group_of("ffmpeg", ["ffmpeg"], groups) == "a"


def test_config_refuses_bad_groups() -> None:
    with pytest.raises(ValueError, match="needs match_name or match_cmdline"):
        ProcessGroup(name="x")
    with pytest.raises(ValueError, match="bad regular expression"):
        ProcessGroup(name="x", match_cmdline=["("])
    with pytest.raises(ValueError, match="less than or equal to 19"):
        ProcessGroup(name="x", match_name=["a"], nice=20)


# --- real processes -----------------------------------------------------------------------


class Spawned:
    def __init__(self, tmp_path: Path) -> None:
        self.name = "wenc" + uuid.uuid4().hex[:6]
        self.binary = tmp_path / self.name
        shutil.copy(shutil.which("sleep") or "/bin/sleep", self.binary)
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, count: int = 2) -> list[int]:
        for _ in range(count):
            self.processes.append(subprocess.Popen([str(self.binary), "600"]))
        pids = [p.pid for p in self.processes]
        # On a loaded machine /proc can show a new process before its command line.
        wait_until(
            lambda: all(read_identity("/proc", pid) is not None for pid in pids),
            timeout=10,
            what="the spawned processes in /proc",
        )
        return pids

    def stop(self) -> None:
        for p in self.processes:
            if p.poll() is None:
                p.send_signal(signal.SIGCONT)
                p.kill()
                p.wait(10)


@pytest.fixture
def spawned(tmp_path: Path) -> Iterator[Spawned]:
    s = Spawned(tmp_path)
    yield s
    s.stop()


def real_control(store: StateStore) -> ProcessControl:
    """The actuator's process control on this machine's real /proc and cgroups."""
    return ProcessControl("/proc", detect_layout("/sys/fs/cgroup"), store, False, LOG)


def ionice_of(pid: int) -> str:
    """The class util-linux's ionice reads for pid ("idle", "best-effort: prio 4", ...)."""
    if shutil.which("ionice") is None:
        missing("util-linux's ionice is not installed")
    return subprocess.run(
        ["ionice", "-p", str(pid)], capture_output=True, text=True, check=True
    ).stdout.strip()


# The kernel's encoding (include/uapi/linux/ioprio.h): the class in the bits from 13 up
# (IOPRIO_CLASS_RT 1, _BE 2, _IDLE 3), the level below; idle has no level.
@pytest.mark.parametrize(
    ("class_name", "level", "raw"),
    [("realtime", 0, 8192), ("realtime", 7, 8199), ("best-effort", 4, 16388), ("idle", 5, 24576)],
)
def test_ioprio_values_are_the_kernels_encoding(class_name: str, level: int, raw: int) -> None:
    assert ioprio_value(class_name, level) == raw


def members(group: ProcessGroup) -> list[ProcessIdentity]:
    return find_group_processes("/proc", [group])[group.name]


# wait_until's conditions on one process, for a loop over pids (a lambda there sees the last).
def stopped(pid: int) -> Callable[[], bool]:
    return lambda: is_stopped("/proc", pid)


def continued(pid: int) -> Callable[[], bool]:
    return lambda: not is_stopped("/proc", pid)


def test_nice_ionice_affinity_and_sigstop_applied_and_restored(
    tmp_path: Path, spawned: Spawned
) -> None:
    pids = spawned.start()
    group = ProcessGroup(
        name="enc", match_name=[spawned.name], nice=12, ionice_class="idle", cpu_affinity=[0]
    )
    before = {
        pid: (os.getpriority(os.PRIO_PROCESS, pid), ioprio_get(pid), os.sched_getaffinity(pid))
        for pid in pids
    }
    store = StateStore(tmp_path / "state.json", LOG)
    control = real_control(store)
    found = members(group)
    assert sorted(p.pid for p in found) == sorted(pids)

    assert control.apply(GroupTarget(group, paused=True, reasons=("test",)), found) == []
    for pid in pids:
        assert os.getpriority(os.PRIO_PROCESS, pid) == 12
        # util-linux's own reading of the kernel's value, not our decoder's.
        assert ionice_of(pid) == "idle"
        assert os.sched_getaffinity(pid) == {0}
        wait_until(stopped(pid), what="stopped")

    assert control.apply(GroupTarget(group, paused=False), members(group)) == []
    for pid in pids:
        wait_until(continued(pid), what="continued")

    # Stopped again, then --cleanup's restore: everything as before, all running.
    control.apply(GroupTarget(group, paused=True), members(group))
    assert restore_processes(StateStore(tmp_path / "state.json", LOG), "/proc", LOG) == []
    for pid in pids:
        wait_until(continued(pid), what="continued by cleanup")
        assert (
            os.getpriority(os.PRIO_PROCESS, pid),
            ioprio_get(pid),
            os.sched_getaffinity(pid),
        ) == before[pid]


def test_a_process_someone_else_stopped_is_not_continued(tmp_path: Path, spawned: Spawned) -> None:
    (pid,) = spawned.start(1)
    os.kill(pid, signal.SIGSTOP)
    wait_until(lambda: is_stopped("/proc", pid), what="stopped by hand")
    group = ProcessGroup(name="enc", match_name=[spawned.name])
    control = real_control(StateStore(tmp_path / "s.json", LOG))
    control.apply(GroupTarget(group, paused=False), members(group))
    assert is_stopped("/proc", pid)


def test_a_reused_pid_is_never_touched(tmp_path: Path, spawned: Spawned) -> None:
    (pid,) = spawned.start(1)
    identity = read_identity("/proc", pid)
    assert identity is not None
    nice_before = os.getpriority(os.PRIO_PROCESS, pid)
    store = StateStore(tmp_path / "state.json", LOG)
    # A record of an older process that had this pid: same pid, another start time.
    store.record_process(
        f"{pid}:{identity.start_time - 1}",
        ProcessRecord(
            group="enc",
            pid=pid,
            start_time=identity.start_time - 1,
            nice=-5,
            ioprio=0,
            affinity=[0],
            stopped_by_warden=True,
        ),
    )
    assert restore_processes(store, "/proc", LOG) == []
    assert os.getpriority(os.PRIO_PROCESS, pid) == nice_before and store.process_items() == []


@pytest.fixture
def own_cgroup() -> Iterator[Path]:
    layout = detect_layout("/sys/fs/cgroup")
    if layout.v2_mount is None:
        missing("no cgroup2 hierarchy on this host")
    directory = layout.v2_mount / f"warden-test-{uuid.uuid4().hex[:8]}"
    try:
        directory.mkdir()
    except OSError as exc:
        missing(f"cannot create a cgroup2 group: {exc}")
    yield directory
    for pid in (directory / "cgroup.procs").read_text().split():
        (layout.v2_mount / "cgroup.procs").write_text(pid)
    directory.rmdir()


def test_freeze_a_group_in_a_cgroup_of_its_own(
    tmp_path: Path, spawned: Spawned, own_cgroup: Path
) -> None:
    pids = spawned.start()
    for pid in pids:
        (own_cgroup / "cgroup.procs").write_text(str(pid))
    group = ProcessGroup(name="enc", match_name=[spawned.name], pause_with="freeze")
    store = StateStore(tmp_path / "state.json", LOG)
    control = real_control(store)

    def frozen() -> bool:
        return "frozen 1" in (own_cgroup / "cgroup.events").read_text()

    assert control.apply(GroupTarget(group, paused=True), members(group)) == []
    wait_until(frozen, what="the cgroup frozen")
    assert control.apply(GroupTarget(group, paused=False), members(group)) == []
    wait_until(lambda: not frozen(), what="thawed")
    # Frozen again and --cleanup's restore thaws it.
    control.apply(GroupTarget(group, paused=True), members(group))
    wait_until(frozen, what="frozen again")
    assert restore_processes(StateStore(tmp_path / "state.json", LOG), "/proc", LOG) == []
    wait_until(lambda: not frozen(), what="thawed by cleanup")


def test_freeze_in_a_shared_cgroup_moves_the_members_into_warden_s_own(
    tmp_path: Path, spawned: Spawned
) -> None:
    pids = spawned.start(2)  # in the test's own cgroup, with the test itself
    layout = detect_layout("/sys/fs/cgroup")
    if layout.v2_mount is None:
        missing("no cgroup2 hierarchy on this host")
    home = process_cgroups(layout, "/proc", pids[0]).v2
    group = ProcessGroup(name="enc", match_name=[spawned.name], pause_with="freeze")
    store = StateStore(tmp_path / "state.json", LOG)
    control = real_control(store)
    ours = layout.v2_mount / OWN_CGROUPS / "enc"

    def frozen() -> bool:
        return ours.exists() and "frozen 1" in (ours / "cgroup.events").read_text()

    try:
        assert control.apply(GroupTarget(group, paused=True), members(group)) == []
        wait_until(frozen, what="Warden's cgroup frozen")
        assert {int(p) for p in (ours / "cgroup.procs").read_text().split()} == set(pids)
        recorded = [store.process(p.key) for p in members(group)]
        assert all(r is not None and r.cgroup == str(home) for r in recorded)
        assert not any(is_stopped("/proc", pid) for pid in pids)  # frozen, not SIGSTOPped
        assert control.apply(GroupTarget(group, paused=False), members(group)) == []
        wait_until(lambda: not ours.exists(), what="thawed, moved back and removed")
        assert all(process_cgroups(layout, "/proc", pid).v2 == home for pid in pids)
        # Frozen again, then --cleanup's restore (after a crash): back home, running.
        control.apply(GroupTarget(group, paused=True), members(group))
        wait_until(frozen, what="frozen again")
        assert restore_processes(StateStore(tmp_path / "state.json", LOG), "/proc", LOG) == []
        assert all(process_cgroups(layout, "/proc", pid).v2 == home for pid in pids)
        assert not ours.exists()
    finally:
        if ours.exists():
            for pid in (ours / "cgroup.procs").read_text().split():
                (layout.v2_mount / "cgroup.procs").write_text(pid)
            (ours / "cgroup.freeze").write_text("0")
            ours.rmdir()


def test_freeze_says_why_not_and_falls_back_to_signals(
    tmp_path: Path, spawned: Spawned, caplog: pytest.LogCaptureFixture
) -> None:
    """A cgroup2 'mount' that is a plain directory: no cgroup.freeze in what Warden makes."""
    (pid,) = spawned.start(1)
    fake = CgroupLayout(root=tmp_path, v2_mount=tmp_path / "unified", v1_mounts={})
    group = ProcessGroup(name="enc", match_name=[spawned.name], pause_with="freeze")
    store = StateStore(tmp_path / "s.json", LOG)
    control = ProcessControl("/proc", fake, store, False, LOG)
    control.apply(GroupTarget(group, paused=True), members(group))
    wait_until(lambda: is_stopped("/proc", pid), what="stopped by signal instead")
    (said,) = [r for r in caplog.records if r.getMessage() == "apply.freeze_unavailable"]
    assert "has no cgroup.freeze" in fields_of(said)["reason"]
    assert all(r.cgroup is None for _, r in store.process_items())
    control.apply(GroupTarget(group, paused=False), members(group))
    wait_until(lambda: not is_stopped("/proc", pid), what="continued")


# --- process trees --------------------------------------------------------------------------


def ident(pid: int, ppid: int, comm: str) -> ProcessIdentity:
    return ProcessIdentity(pid, 100 + pid, comm, (comm,), ppid=ppid)


TREE = {
    p.pid: p
    for p in (
        ident(1, 0, "init"),
        ident(10, 1, "wrapper"),  # matched: the encoder wrapper
        ident(11, 10, "ffmpeg"),  # its worker
        ident(12, 11, "ffprobe"),  # the worker's child
        ident(13, 10, "backup"),  # a child another group matches: that group's
        ident(14, 13, "tar"),  # and its child with it
        ident(20, 1, "shell"),
        ident(21, 20, "wrapper"),  # matched under an unmatched parent
        ident(30, 1, "warden"),  # excluded (Warden itself), and what it starts
        ident(31, 30, "wrapper"),  # matched on its own account
        ident(32, 30, "sleep"),
        ident(40, 9999, "orphan"),  # parent unknown
    )
}


@pytest.mark.parametrize(
    ("include_children", "expect"),
    [
        (True, {"enc": [10, 21, 31, 11, 12], "backup": [13, 14]}),
        (False, {"enc": [10, 21, 31], "backup": [13]}),
    ],
)
def test_group_trees_parents_first(include_children: bool, expect: dict[str, list[int]]) -> None:
    groups = [
        ProcessGroup(name="enc", match_name=["wrapper"], include_children=include_children),
        ProcessGroup(name="backup", match_name=["backup"], include_children=include_children),
    ]
    trees = group_trees(TREE, groups, exclude=(30,))
    assert {name: [p.pid for p in found] for name, found in trees.items()} == expect


class Tree:
    """A shell (a copy of sh under a unique name, matched by that name) that forks two
    sleeping children, and one more for each line it reads from a FIFO: the encoder
    wrapper and its workers. A line, not a signal: a sh stopped inside `wait` may leave a
    trapped HUP unhandled until a child ends (twice in full runs), while a line waits in
    the pipe until the shell runs again and reads it."""

    SCRIPT = 'exec 3<"$1"; sleep 600 & sleep 600 & while read -r _ <&3; do sleep 600 & done'

    def __init__(self, tmp_path: Path) -> None:
        self.name = "wtree" + uuid.uuid4().hex[:6]
        binary = tmp_path / self.name
        shutil.copy(shutil.which("sh") or "/bin/sh", binary)
        fifo = tmp_path / f"{self.name}.fork"
        os.mkfifo(fifo)
        # Read-write, so that neither side's open waits for the other.
        self._fork = os.open(fifo, os.O_RDWR)
        self.shell = subprocess.Popen([str(binary), "-c", self.SCRIPT, self.name, str(fifo)])
        wait_until(lambda: len(self.children()) == 2, what="the shell's two children")

    def children(self) -> list[int]:
        found = []
        for entry in Path("/proc").iterdir():
            identity = read_identity("/proc", int(entry.name)) if entry.name.isdigit() else None
            if identity is not None and identity.ppid == self.shell.pid:
                found.append(identity.pid)
        return sorted(found)

    def pids(self) -> list[int]:
        return [self.shell.pid, *self.children()]

    def fork_one_more(self) -> None:
        """Someone continues the paused shell, with a line waiting: it forks a third child."""
        os.write(self._fork, b"fork\n")
        os.kill(self.shell.pid, signal.SIGCONT)
        wait_until(lambda: len(self.children()) == 3, what="a third child")

    def stop(self) -> None:
        pids = self.pids()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
                os.kill(pid, signal.SIGKILL)
        self.shell.wait(10)
        os.close(self._fork)


@pytest.fixture
def tree(tmp_path: Path) -> Iterator[Tree]:
    t = Tree(tmp_path)
    yield t
    t.stop()


def state_of(pid: int) -> str:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat[stat.rfind(")") + 2]


def state_in(pid: int, states: str) -> Callable[[], bool]:
    """wait_until's condition on one process's state letter, for a loop over pids."""
    return lambda: state_of(pid) in states


def test_a_whole_process_tree_paused_resumed_and_re_niced(tmp_path: Path, tree: Tree) -> None:
    group = ProcessGroup(name="enc", match_name=[tree.name], nice=14)
    pids = tree.pids()
    assert [p.pid for p in members(group)] == pids  # the shell first, then its children
    nice_before = {pid: os.getpriority(os.PRIO_PROCESS, pid) for pid in pids}
    store = StateStore(tmp_path / "state.json", LOG)
    control = real_control(store)

    rescan = lambda: members(group)  # noqa: E731
    assert control.apply(GroupTarget(group, paused=True), members(group), rescan) == []
    for pid in pids:
        wait_until(state_in(pid, "T"), what=f"pid {pid} stopped")
        assert os.getpriority(os.PRIO_PROCESS, pid) == 14

    # A child forked while the group is paused (the shell ran again for a moment: someone
    # continued it, and it forked for the line it had waiting) is stopped too, as the shell
    # is again, at the next look.
    tree.fork_one_more()
    (late,) = set(tree.children()) - set(pids)
    assert control.apply(GroupTarget(group, paused=True), members(group), rescan) == []
    for pid in [*pids, late]:
        wait_until(state_in(pid, "T"), what=f"pid {pid} stopped")
    assert os.getpriority(os.PRIO_PROCESS, late) == 14

    assert control.apply(GroupTarget(group, paused=False), members(group)) == []
    for pid in [*pids, late]:
        wait_until(state_in(pid, "SR"), what=f"pid {pid} running")

    # Restored: every member's nice level as it was, and nothing left recorded.
    assert restore_processes(store, "/proc", LOG) == []
    for pid in pids:
        assert os.getpriority(os.PRIO_PROCESS, pid) == nice_before[pid]
    assert os.getpriority(os.PRIO_PROCESS, late) == nice_before[tree.shell.pid]
    assert store.process_items() == []


def test_children_are_stopped_before_their_parent_and_continued_after(
    tmp_path: Path, tree: Tree, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO")
    group = ProcessGroup(name="enc", match_name=[tree.name])
    control = real_control(StateStore(tmp_path / "state.json", LOG))
    control.apply(GroupTarget(group, paused=True), members(group))
    control.apply(GroupTarget(group, paused=False), members(group))
    order = [
        (r.getMessage(), fields_of(r)["pid"])
        for r in caplog.records
        if r.getMessage() in ("apply.sigstop", "apply.sigcont")
    ]
    shell, children = tree.shell.pid, tree.children()
    stops = [pid for kind, pid in order if kind == "apply.sigstop"]
    conts = [pid for kind, pid in order if kind == "apply.sigcont"]
    assert stops[-1] == shell and set(stops[:-1]) == set(children)
    assert conts[0] == shell and set(conts[1:]) == set(children)


@pytest.mark.parametrize("cleanup", sorted(CLEANUP_COMMANDS))
def test_actuator_pauses_a_group_by_desired_state_and_cleanup_after_a_crash(
    tmp_path: Path, broker: Mosquitto, probe: Probe, spawned: Spawned, host_id: str, cleanup: str
) -> None:
    pids = spawned.start()
    cfg = write_config(
        tmp_path / "config.yaml",
        {
            "host_id": host_id,
            "mqtt": {"host": broker.host, "port": broker.port},
            "process_groups": [{"name": "encoders", "match_name": [spawned.name], "nice": 15}],
            "actuator": {
                "state_file": str(tmp_path / "state.json"),
                "startup_grace_seconds": 1,
                "process_scan_seconds": 0.5,
            },
        },
    )
    nice_before = {pid: os.getpriority(os.PRIO_PROCESS, pid) for pid in pids}
    actuator = Service("actuator", cfg, tmp_path)
    try:
        wait_until(
            lambda: all(os.getpriority(os.PRIO_PROCESS, p) == 15 for p in pids),
            what="the group's nice level as its baseline",
        )
        desired = DesiredState(
            host=host_id,
            seq=1,
            lease_seconds=30,
            process_groups={
                "encoders": ProcessGroupIntent(paused=True, reasons=[Reason(rule="test")])
            },
        )
        probe.publish(f"warden/{host_id}/desired", desired.model_dump_json())
        wait_until(lambda: all(is_stopped("/proc", p) for p in pids), what="group stopped")
        actuator.kill(signal.SIGKILL)
    finally:
        actuator.kill(signal.SIGTERM)
    done = run_cleanup(cfg, via=cleanup)
    assert done.returncode == 0, done.stderr
    for pid in pids:
        wait_until(continued(pid), what=f"continued by {cleanup}")
        assert os.getpriority(os.PRIO_PROCESS, pid) == nice_before[pid]


def test_without_docker_the_actuator_still_manages_process_groups(
    tmp_path: Path, broker: Mosquitto, probe: Probe, spawned: Spawned, host_id: str
) -> None:
    (pid,) = spawned.start(1)
    cfg = write_config(
        tmp_path / "config.yaml",
        {
            "host_id": host_id,
            "mqtt": {"host": broker.host, "port": broker.port},
            "process_groups": [{"name": "encoders", "match_name": [spawned.name], "nice": 7}],
            "actuator": {
                "state_file": str(tmp_path / "state.json"),
                "startup_grace_seconds": 0,
                "docker_url": f"unix://{tmp_path}/no-docker.sock",
                "process_scan_seconds": 0.5,
            },
        },
    )
    actuator = Service("actuator", cfg, tmp_path)
    try:
        wait_until(lambda: os.getpriority(os.PRIO_PROCESS, pid) == 7, what="nice without Docker")
        probe.wait_for(f"warden/{host_id}/applied", lambda s: b'"target":"docker"' in s.payload)
    finally:
        assert actuator.stop() == 0
    log = actuator.output()
    assert "preflight.no_docker" in log and log.count("reconcile.docker_unavailable") == 1


def test_a_process_whose_group_left_the_config_is_given_back(
    tmp_path: Path, spawned: Spawned
) -> None:
    (pid,) = spawned.start(1)
    nice_before = os.getpriority(os.PRIO_PROCESS, pid)
    group = ProcessGroup(name="enc", match_name=[spawned.name], nice=11)
    store = StateStore(tmp_path / "state.json", LOG)
    control = real_control(store)
    control.apply(GroupTarget(group, paused=True), members(group))
    wait_until(lambda: is_stopped("/proc", pid), what="stopped")
    # The next scan finds no member: the group was removed from the config.
    assert control.settle_departed([]) == []
    wait_until(lambda: not is_stopped("/proc", pid), what="continued")
    assert os.getpriority(os.PRIO_PROCESS, pid) == nice_before and store.process_items() == []


# --- the governor's intent: a preset's nice level ------------------------------------------


def test_a_target_nice_is_applied_to_real_processes(tmp_path: Path, spawned: Spawned) -> None:
    (pid,) = spawned.start(1)
    group = ProcessGroup(name="enc", match_name=[spawned.name], nice=5)
    control = real_control(StateStore(tmp_path / "s.json", LOG))
    assert control.apply(GroupTarget(group, paused=False, nice=13), members(group)) == []
    assert os.getpriority(os.PRIO_PROCESS, pid) == 13


def test_governor_pauses_a_group_for_others_load_and_a_preset_sets_its_nice(
    tmp_path: Path, broker: Mosquitto, probe: Probe, spawned: Spawned, host_id: str
) -> None:
    """Real governor and actuator; the test publishes what the sensors would."""
    pids = spawned.start()
    cfg = write_config(
        tmp_path / "config.yaml",
        {
            "host_id": host_id,
            "mqtt": {"host": broker.host, "port": broker.port},
            "process_groups": [
                {
                    "name": "encoders",
                    "match_name": [spawned.name],
                    "pause_hold_seconds": 0.5,
                    "resume_hold_seconds": 1,
                }
            ],
            "actuator": {
                "state_file": str(tmp_path / "state.json"),
                "startup_grace_seconds": 1,
                "process_scan_seconds": 0.5,
            },
        },
    )
    base = f"warden/{host_id}"

    def resources(host_cpu: float) -> str:
        # The group's own 5 % is not counted: the others use host_cpu - 5.
        return ResourcesFact(
            host=host_id,
            machine=HostUsage(cpu_count=4, cpu_percent=host_cpu, memory_used_percent=20),
            process_groups=[ProcessGroupUsage(name="encoders", pids=pids, cpu_percent=5)],
        ).model_dump_json()

    def nice_is(level: int) -> bool:
        return all(os.getpriority(os.PRIO_PROCESS, p) == level for p in pids)

    actuator = Service("actuator", cfg, tmp_path)
    governor = Service("governor", cfg, tmp_path)
    try:
        probe.publish(
            f"{base}/sensors/thermal",
            ThermalFact(host=host_id, available=True, max_celsius=40).model_dump_json(),
        )
        probe.publish(f"{base}/sensors/resources", resources(20))
        wait_until(lambda: nice_is(10), what="balanced, the default preset: nice 10")
        assert not any(is_stopped("/proc", p) for p in pids)

        probe.publish(f"{base}/sensors/resources", resources(95))
        wait_until(lambda: all(is_stopped("/proc", p) for p in pids), what="group stopped")
        desired = probe.wait_for(f"{base}/desired", lambda s: b'"paused":true' in s.payload)
        intent = DesiredState.model_validate_json(desired.payload).process_groups["encoders"]
        # The rule and its threshold; the live reading (90 %) stays out of the state.
        assert [(r.metric, r.value, r.threshold) for r in intent.reasons if r.metric] == [
            ("others_cpu_percent", None, 85.0)
        ]

        probe.publish(f"{base}/sensors/resources", resources(20))
        wait_until(lambda: not any(is_stopped("/proc", p) for p in pids), what="resumed")

        probe.publish(f"{base}/preset/set", "Conservative")
        wait_until(lambda: nice_is(15), what="the conservative preset's nice 15")
        probe.wait_for(f"{base}/preset", lambda s: s.payload == b"Conservative")
        probe.publish(f"{base}/preset/set", "turbo")
        wait_until(lambda: "unknown preset 'turbo'" in governor.output(), what="turbo refused")
        log = governor.output()
        assert "decision.group_pause" in log and "decision.group_resume" in log

        # A restarted governor picks the preset up from its retained memory.
        assert governor.stop() == 0
        restarted = time.monotonic()
        governor = Service("governor", cfg, tmp_path)
        seen = probe.wait_for(f"{base}/preset", after=restarted)
        assert seen.payload == b"Conservative"
        desired = probe.wait_for(f"{base}/desired", after=restarted)
        state = DesiredState.model_validate_json(desired.payload)
        memory = probe.wait_for(f"{base}/governor/memory", after=restarted)
        assert GovernorMemory.model_validate_json(memory.payload).switches.preset == "conservative"
        assert state.process_groups["encoders"].nice == 15 and nice_is(15)
    finally:
        governor.stop()
        actuator.stop()
