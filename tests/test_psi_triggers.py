"""PSI triggers: thresholds from the config, and real triggers on this machine's kernel."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from services.sensors.pressure import parse_pressure
from services.sensors.psi_triggers import (
    HOST,
    PsiTriggers,
    TriggerSpec,
    cgroup_paths,
    elevated,
    host_paths,
    stall_threshold_us,
    trigger_specs,
)
from shared.config.model import WardenConfig
from shared.logs import Log
from shared.messages import PsiTriggerFired, ResourcePressure
from tests.support.docker_env import Containers
from tests.support.psi import container_cgroup, need_psi
from tests.support.real import missing

TWO_S = 2_000_000


@pytest.mark.parametrize(
    ("percent", "window_us", "stall_us"),
    [
        (50, TWO_S, 1_000_000),
        (25, TWO_S, 500_000),
        (60, 4_000_000, 2_400_000),
        (100, TWO_S, TWO_S),  # the kernel takes up to the whole window
        (0, TWO_S, 1),  # and at least 1 us: 0 would be refused
        (0.00001, TWO_S, 1),
    ],
)
def test_stall_threshold_is_a_share_of_the_window(
    percent: float, window_us: int, stall_us: int
) -> None:
    assert stall_threshold_us(percent, window_us) == stall_us


def test_trigger_thresholds_follow_the_rule_thresholds() -> None:
    cfg = WardenConfig.model_validate(
        {
            "memory_pressure": {"some_avg10_threshold": 40, "emergency_full_avg10_threshold": 20},
            "io_pressure": {"trigger_avg10_threshold": 70, "recovery_avg10_threshold": 10},
            "sensors": {"cpu_pressure_trigger_percent": 90, "psi_window_seconds": 4},
        }
    )
    specs = {(s.resource, s.line): (s.stall_us, s.window_us) for s in trigger_specs(cfg)}
    assert specs == {
        ("memory", "some"): (1_600_000, 4_000_000),
        ("memory", "full"): (800_000, 4_000_000),
        ("io", "some"): (2_800_000, 4_000_000),
        ("cpu", "some"): (3_600_000, 4_000_000),
    }


def test_defaults_give_two_second_windows() -> None:
    specs = trigger_specs(WardenConfig())
    assert {s.window_us for s in specs} == {TWO_S}
    assert TriggerSpec("memory", "some", 150_000, TWO_S).text() == b"some 150000 2000000\0"


@pytest.mark.parametrize("window", [1, 3, 12])
def test_windows_the_kernel_would_refuse_are_config_errors(window: int) -> None:
    with pytest.raises(ValueError, match="psi_window_seconds"):
        WardenConfig.model_validate({"sensors": {"psi_window_seconds": window}})


def _p(some10: float, some60: float = 0, full10: float | None = None) -> ResourcePressure:
    text = f"some avg10={some10} avg60={some60} avg300=0 total=1\n"
    if full10 is not None:
        text += f"full avg10={full10} avg60=0 avg300=0 total=1\n"
    return parse_pressure(text)


@pytest.mark.parametrize(
    ("cpu", "memory", "io", "high"),
    [
        (None, None, None, []),
        (_p(10), _p(10, 1, 0), _p(10), []),
        (_p(10), _p(55), _p(10), ["memory.some_avg10"]),
        (_p(10), _p(10, 45), _p(10), ["memory.some_avg60"]),
        (_p(10), _p(10, 0, 30), _p(10), ["memory.full_avg10"]),
        # io holds until below recovery (20), not below its trigger (60)
        (_p(10), _p(10), _p(25), ["io.some_avg10"]),
        (_p(51), None, _p(20), ["cpu.some_avg10"]),
    ],
)
def test_elevated_names_what_a_rule_still_acts_on(
    cpu: ResourcePressure | None,
    memory: ResourcePressure | None,
    io: ResourcePressure | None,
    high: list[str],
) -> None:
    found = elevated(WardenConfig(), cpu, memory, io)
    assert [h.split("=")[0] for h in found] == high


class Recorder:
    def __init__(self) -> None:
        self.fired: list[PsiTriggerFired] = []
        self.lost: list[tuple[str, str]] = []
        self.cond = threading.Condition()

    def on_fire(self, fired: list[PsiTriggerFired]) -> None:
        with self.cond:
            self.fired.extend(fired)
            self.cond.notify_all()

    def on_lost(self, scope: str, why: str) -> None:
        with self.cond:
            self.lost.append((scope, why))
            self.cond.notify_all()

    def wait(self, check: Callable[[], bool], timeout: float = 20.0) -> bool:
        deadline = time.monotonic() + timeout
        with self.cond:
            while not check():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self.cond.wait(remaining)
            return True


def has_sys_resource() -> bool:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("CapEff:"):
            return bool((int(line.split()[1], 16) >> 24) & 1)
    return False


def test_refusals_are_explained_and_arm_nothing(tmp_path: Path) -> None:
    need_psi()
    if has_sys_resource():
        # As root (CI) any window is allowed: the refusal the sensors meet is shown in a
        # child without CAP_SYS_RESOURCE, as the unprivileged sensors run.
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            missing("setpriv is not installed (util-linux): it drops CAP_SYS_RESOURCE")
        test = f"{Path(__file__).resolve()}::test_refusals_are_explained_and_arm_nothing"
        child = subprocess.run(
            [setpriv, "--bounding-set=-sys_resource", sys.executable, "-m", "pytest", "-q", test],
            capture_output=True,
            text=True,
            cwd=Path(__file__).resolve().parents[1],
            timeout=120,
        )
        assert child.returncode == 0, child.stdout + child.stderr
        assert "1 passed" in child.stdout
        return
    rec = Recorder()
    triggers = PsiTriggers(rec.on_fire, rec.on_lost, Log("test"))
    try:
        # Sub-2 s windows need CAP_SYS_RESOURCE, which the sensors must not need.
        bad = [TriggerSpec("memory", "some", 1000, TWO_S), TriggerSpec("cpu", "some", 10, 1000)]
        problem = triggers.add(HOST, host_paths("/proc"), bad)
        assert problem is not None
        assert "/proc/pressure/cpu" in problem and "multiple of 2 s" in problem
        assert triggers.scopes() == set()  # the memory trigger opened first was closed again

        problem = triggers.add("gone", host_paths(tmp_path), bad[:1])
        assert problem is not None and "no such file" in problem
    finally:
        triggers.close()


def test_host_triggers_arm_on_the_real_kernel() -> None:
    need_psi()
    rec = Recorder()
    triggers = PsiTriggers(rec.on_fire, rec.on_lost, Log("test"))
    try:
        assert triggers.add(HOST, host_paths("/proc"), trigger_specs(WardenConfig())) is None
        assert triggers.scopes() == {HOST}
        triggers.remove(HOST)
        assert triggers.scopes() == set()
    finally:
        triggers.close()


# Writes through the page cache of a 16 MiB cgroup: reclaim and writeback stall it on
# memory and io at once, for several seconds.
LOAD = ("sh", "-c", "sleep 1; dd if=/dev/zero of=/big bs=1M count=600; rm -f /big; sleep 3600")


def test_a_container_trigger_fires_under_a_load_it_creates(containers: Containers) -> None:
    need_psi()
    cid = containers.run("psi", LOAD, mem_limit="16m")
    directory = container_cgroup(containers, cid)
    rec = Recorder()
    triggers = PsiTriggers(rec.on_fire, rec.on_lost, Log("test"))
    specs = [
        TriggerSpec("memory", "some", stall_threshold_us(5, TWO_S), TWO_S),
        TriggerSpec("io", "some", stall_threshold_us(5, TWO_S), TWO_S),
    ]
    try:
        assert triggers.add(cid, cgroup_paths(directory), specs) is None
        assert rec.wait(lambda: bool(rec.fired)), "no trigger fired under the load"
        assert {f.scope for f in rec.fired} == {cid}
        assert {f.resource for f in rec.fired} <= {"memory", "io"}
        assert all(f.window_us == TWO_S for f in rec.fired)

        # Removing the container removes its cgroup: the triggers report themselves lost.
        containers.api.remove_container(cid, force=True)
        assert rec.wait(lambda: bool(rec.lost)), "a removed cgroup's triggers were not noticed"
        assert rec.lost[0][0] == cid
        assert triggers.scopes() == set()
    finally:
        triggers.close()
