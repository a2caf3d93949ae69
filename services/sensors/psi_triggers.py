"""PSI triggers: the kernel wakes the sensors when stall time in a window crosses a threshold.

Writing `some 150000 2000000` to /proc/pressure/memory (or a cgroup's
memory.pressure) asks the kernel to signal POLLPRI on that file descriptor
whenever tasks stalled on memory for 150 ms within any 2 s window. One fd
holds one trigger and must stay open. One thread waits on all of them with
epoll and hands each firing to the service loop; the loop reads the averages
and publishes at once.

Where the kernel refuses (no PSI, no permission, a window it will not take
from an unprivileged writer), the scope falls back to polling; the service
reports that once.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from shared.config.model import WardenConfig
from shared.logs import Log
from shared.messages import PsiTriggerFired, ResourcePressure
from shared.messages.facts import PsiResource

HOST = "host"
# PSI's avg10 horizon: after a firing the sensors follow the averages at least this long,
# because avg10 lags the stall that fired the trigger.
FOLLOW_SECONDS = 10.0


@dataclass(frozen=True)
class TriggerSpec:
    resource: PsiResource
    line: Literal["some", "full"]
    stall_us: int
    window_us: int

    def text(self) -> bytes:
        # The kernel replaces the last byte written with NUL, so the NUL is ours to give.
        return f"{self.line} {self.stall_us} {self.window_us}\0".encode()

    def fired(self, scope: str) -> PsiTriggerFired:
        return PsiTriggerFired(
            scope=scope,
            resource=self.resource,
            line=self.line,
            stall_us=self.stall_us,
            window_us=self.window_us,
        )


def stall_threshold_us(percent: float, window_us: int) -> int:
    """percent of the window as stall microseconds; the kernel takes 1..window_us."""
    return max(1, min(window_us, round(window_us * percent / 100)))


def trigger_specs(cfg: WardenConfig) -> tuple[TriggerSpec, ...]:
    """One trigger per rule threshold, so the kernel wakes us where a rule would act."""
    window_us = cfg.sensors.psi_window_seconds * 1_000_000
    wanted: list[tuple[PsiResource, Literal["some", "full"], float]] = [
        ("memory", "some", cfg.memory_pressure.some_avg10_threshold),
        ("memory", "full", cfg.memory_pressure.emergency_full_avg10_threshold),
        ("io", "some", cfg.io_pressure.trigger_avg10_threshold),
        ("cpu", "some", cfg.sensors.cpu_pressure_trigger_percent),
    ]
    return tuple(
        TriggerSpec(resource, line, stall_threshold_us(percent, window_us), window_us)
        for resource, line, percent in wanted
    )


def protect_specs(cfg: WardenConfig) -> tuple[TriggerSpec, ...]:
    """A protected container's own triggers: its some-stall share per resource (protect:)."""
    window_us = cfg.sensors.psi_window_seconds * 1_000_000
    shares = cfg.protect.stall_percent
    wanted: tuple[PsiResource, ...] = ("cpu", "io", "memory")
    return tuple(
        TriggerSpec(r, "some", stall_threshold_us(getattr(shares, r), window_us), window_us)
        for r in wanted
    )


def elevated(
    cfg: WardenConfig,
    cpu: ResourcePressure | None,
    memory: ResourcePressure | None,
    io: ResourcePressure | None,
) -> list[str]:
    """The rule metrics still above the level at which their rule lets go (unknown: none)."""
    high: list[str] = []

    def check(metric: str, value: float | None, limit: float) -> None:
        if value is not None and value > limit:
            high.append(f"{metric}={value} > {limit}")

    if memory is not None:
        check("memory.some_avg10", memory.some.avg10, cfg.memory_pressure.some_avg10_threshold)
        check("memory.some_avg60", memory.some.avg60, cfg.memory_pressure.critical_avg60_threshold)
        if memory.full is not None:
            check(
                "memory.full_avg10",
                memory.full.avg10,
                cfg.memory_pressure.emergency_full_avg10_threshold,
            )
    if io is not None:
        # The io rule holds its limits until avg10 is below recovery, not below the trigger.
        check("io.some_avg10", io.some.avg10, cfg.io_pressure.recovery_avg10_threshold)
    if cpu is not None:
        check("cpu.some_avg10", cpu.some.avg10, cfg.sensors.cpu_pressure_trigger_percent)
    return high


def host_paths(proc_root: str | Path) -> dict[PsiResource, Path]:
    base = Path(proc_root) / "pressure"
    return {"cpu": base / "cpu", "memory": base / "memory", "io": base / "io"}


def cgroup_paths(cgroup_dir: Path) -> dict[PsiResource, Path]:
    return {r: cgroup_dir / f"{r}.pressure" for r in ("cpu", "memory", "io")}


def _explain(path: Path, spec: TriggerSpec, exc: OSError) -> str:
    what = f"{path}: trigger {spec.text()[:-1].decode()!r}"
    if exc.errno == errno.ENOENT:
        return f"{path}: no such file (kernel without PSI, or the cgroup is gone)"
    if exc.errno in (errno.EPERM, errno.EACCES):
        return f"{what}: not allowed ({exc.strerror})"
    if exc.errno == errno.EINVAL:
        return (
            f"{what}: refused by the kernel (without CAP_SYS_RESOURCE the window must be "
            f"a multiple of 2 s)"
        )
    if exc.errno == errno.EOPNOTSUPP:
        return f"{what}: PSI is disabled in this kernel (psi=0)"
    return f"{what}: {exc.strerror or exc}"


@dataclass(frozen=True)
class _Armed:
    scope: str
    spec: TriggerSpec
    path: Path


class PsiTriggers:
    """Holds trigger fds and one thread that waits on them all with epoll.

    on_fire and on_lost run on the waiting thread: callers hand them to their loop.
    """

    def __init__(
        self,
        on_fire: Callable[[list[PsiTriggerFired]], None],
        on_lost: Callable[[str, str], None],
        log: Log,
    ) -> None:
        self._on_fire = on_fire
        self._on_lost = on_lost
        self._log = log
        self._epoll = select.epoll()
        self._lock = threading.Lock()
        self._armed: dict[int, _Armed] = {}
        self._wake_r, self._wake_w = os.pipe()
        self._epoll.register(self._wake_r, select.EPOLLIN)
        self._thread = threading.Thread(target=self._run, name="psi-triggers", daemon=True)
        self._started = False
        self._closed = False

    def scopes(self) -> set[str]:
        with self._lock:
            return {a.scope for a in self._armed.values()}

    def add(
        self, scope: str, paths: Mapping[PsiResource, Path], specs: Iterable[TriggerSpec]
    ) -> str | None:
        """Arms every trigger of a scope, or none: returns why not (None when armed)."""
        opened: list[tuple[int, _Armed]] = []
        problem: str | None = None
        for spec in specs:
            path = paths[spec.resource]
            try:
                fd = os.open(path, os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
            except OSError as exc:
                problem = _explain(path, spec, exc)
                break
            opened.append((fd, _Armed(scope, spec, path)))
            try:
                os.write(fd, spec.text())
            except OSError as exc:
                problem = _explain(path, spec, exc)
                break
        if problem is not None:
            self._close_fds(fd for fd, _ in opened)
            return problem
        with self._lock:
            if self._closed:
                self._close_fds(fd for fd, _ in opened)
                return "closed"
            for fd, armed in opened:
                self._armed[fd] = armed
                self._epoll.register(fd, select.EPOLLPRI)
            if not self._started:
                self._started = True
                self._thread.start()
        return None

    def remove(self, scope: str) -> None:
        with self._lock:
            fds = [fd for fd, a in self._armed.items() if a.scope == scope]
            for fd in fds:
                del self._armed[fd]
                self._unregister(fd)
        self._close_fds(fds)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            fds = list(self._armed)
            self._armed.clear()
            for fd in fds:
                self._unregister(fd)
        self._close_fds(fds)
        os.write(self._wake_w, b"x")
        if self._started:
            self._thread.join(2)
        self._epoll.close()
        os.close(self._wake_r)
        os.close(self._wake_w)

    def _unregister(self, fd: int) -> None:
        with contextlib.suppress(OSError, ValueError):
            self._epoll.unregister(fd)

    @staticmethod
    def _close_fds(fds: Iterable[int]) -> None:
        for fd in fds:
            with contextlib.suppress(OSError):
                os.close(fd)

    def _run(self) -> None:
        while True:
            try:
                events = self._epoll.poll()
            except InterruptedError:
                continue
            except (OSError, ValueError):
                return  # closed under us
            fired: list[PsiTriggerFired] = []
            for fd, mask in events:
                if fd == self._wake_r:
                    return
                try:
                    self._handle(fd, mask, fired)
                except Exception:
                    # A callback's bug must not stop every other trigger from being heard.
                    self._log.exception("psi.trigger_handler_failed")
            if fired:
                # Triggers that fire together (memory and io stalls often do) make one reading.
                try:
                    self._on_fire(fired)
                except Exception:
                    self._log.exception("psi.trigger_handler_failed")

    def _handle(self, fd: int, mask: int, fired: list[PsiTriggerFired]) -> None:
        with self._lock:
            armed = self._armed.get(fd)
            if armed is None or self._closed:
                return  # removed while the event was on its way
            if mask & (select.EPOLLERR | select.EPOLLHUP):
                # The cgroup was removed: its triggers can never fire again.
                fds = [f for f, a in self._armed.items() if a.scope == armed.scope]
                for f in fds:
                    del self._armed[f]
                    self._unregister(f)
            else:
                fds = []
        if fds:
            self._close_fds(fds)
            self._on_lost(armed.scope, f"{armed.path}: gone")
            return
        if mask & select.EPOLLPRI:
            fired.append(armed.spec.fired(armed.scope))
