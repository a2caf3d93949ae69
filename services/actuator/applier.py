"""Applies targets to the host, recording every original value before its first change.

Tier baselines that Docker can hold (cpu weight as CpuShares, memory.max) go
through the Docker API where the container had a value of its own there, so
dockerd's record stays right, it re-applies them on a restart, and a clean stop
can put the container's own value back the same way. Where Docker's record had
none (0: `docker run` without --cpu-shares or --memory), they go to the cgroup
files instead: Docker's update reads 0 as "unchanged" and refuses a memory limit
below 6 MB, so no API call can ever take a value back out of its record, and an
uninstall must leave `docker inspect` as it found it. Temporary enforcement
(cpu.max, memory.high, io.max, cpu.idle) and what Docker cannot set on a running
container (io.weight) go to the cgroup files only: a throttle must never outlive
Warden in Docker's record, where a container restart would bring it back.

Only values that differ from what was last applied are written. In dry-run
every change is logged as it would be made, and nothing is touched.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from host.block_devices import devices_backing, is_whole_disk
from host.cgroups import control as cgroup_files
from host.cgroups.view import CgroupLayout, ProcessCgroups, process_cgroups
from host.docker.client import DockerError, Engine
from host.docker.control import update_limits
from host.docker.view import DockerContainer, inspect
from services.actuator.plan import Settings, Target
from services.actuator.state_store import DOCKER_FIELDS, StateStore
from shared.errors import brief
from shared.logs import Log
from shared.messages import IoMax

# Tests put a SIGKILL between two changes on purpose: set to N, the actuator stops itself
# (SIGSTOP, every thread) right after its N-th change to the host, where the test kills it.
STOP_AFTER_CHANGES = "WARDEN_TEST_STOP_AFTER_CHANGES"

# Each setting Docker can hold, and its field in Docker's record.
DOCKER_FIELD = {"cpu_weight": "CpuShares", "memory_max": "Memory"}
DOCKER_SETTINGS = tuple(DOCKER_FIELD)
CGROUP_SETTINGS = ("memory_high", "io_weight", "io_max", "cpu_max", "cpu_idle")


def present(limit: IoMax | None) -> IoMax | None:
    """The limit without the disks it names that this host does not have (one unplugged
    since the sensors saw a stream use it): nothing there to limit."""
    if limit is None:
        return None
    here = {d: rate for d, rate in limit.disks.items() if is_whole_disk(d)}
    return limit if len(here) == len(limit.disks) else limit.model_copy(update={"disks": here})


@dataclass
class ApplyReport:
    errors: list[str] = field(default_factory=list)


class Applier:
    def __init__(
        self,
        docker: Engine,
        layout: CgroupLayout,
        proc_root: str | Path,
        docker_root: str | None,
        store: StateStore,
        dry_run: bool,
        log: Log,
    ) -> None:
        self.docker = docker
        self.layout = layout
        self.proc_root = proc_root
        self.docker_root = docker_root
        self.store = store
        self.dry_run = dry_run
        self.log = log
        self.unsupported: set[str] = set()
        self._left_paused: set[str] = set()
        self._changes = 0
        self._stop_after = int(os.environ.get(STOP_AFTER_CHANGES) or 0)
        self._counting = threading.Lock()

    def _changed(self) -> None:
        """One change to the host made (a Docker update, a control file, a pause)."""
        with self._counting:
            self._changes += 1
            if self._changes == self._stop_after:
                os.kill(os.getpid(), signal.SIGSTOP)

    def io_devices(self, container: DockerContainer) -> list[str]:
        """The whole disks behind the container's data: Docker's root and its mounts."""
        paths = [p for p in (self.docker_root, *container.mounts) if p]
        return sorted({dev for p in paths for dev in devices_backing(p)})

    def apply(self, target: Target, last: Settings | None) -> ApplyReport:
        report = ApplyReport()
        changed = [
            name
            for name in DOCKER_SETTINGS + CGROUP_SETTINGS
            if last is None or getattr(last, name) != getattr(target.settings, name)
        ]
        c = target.container
        reasons = "; ".join(target.reasons) or "tier baseline"
        if target.paused:
            # The pause is what the protected work needs first; it changes none of the
            # originals, which are recorded after it, before anything else is changed.
            self._pause_state(target, reasons, report)
        if changed and not self.dry_run and not self._record(c, report):
            return report
        docker_changes = [f for f in changed if f in DOCKER_SETTINGS]
        originals = self._docker_originals(c) if docker_changes else {}
        # Into Docker's record only what it held a value of its own for (module docstring).
        held = [f for f in docker_changes if originals.get(DOCKER_FIELD[f])]
        if held:
            self._docker_update(target, held, originals, reasons, report)
        cgroup_changes = [f for f in changed if f in CGROUP_SETTINGS]
        cgroup_changes += [f for f in docker_changes if f not in held]
        if cgroup_changes and c.pid:
            self._cgroup_writes(target, cgroup_changes, reasons, report)
        if not target.paused:
            self._pause_state(target, reasons, report)
        if report.errors:
            self.log.warning("apply.failed", container=c.name, errors="; ".join(report.errors))
        return report

    def _cgroups(self, c: DockerContainer) -> ProcessCgroups | None:
        if not c.pid:
            return None
        try:
            return process_cgroups(self.layout, self.proc_root, c.pid)
        except OSError:
            return None

    def _record(self, c: DockerContainer, report: ApplyReport) -> bool:
        """Originals first: a crash after this and before the change still leaves a record."""
        if self.store.recorded(c.id):
            return True
        try:
            host_config = inspect(self.docker.api, c.id).HostConfig.model_dump()
        except DockerError as exc:
            report.errors.append(f"inspect before recording: {brief(exc)}")
            return False
        docker = {k: int(host_config.get(k) or 0) for k in DOCKER_FIELDS}
        cg = self._cgroups(c)
        files = cgroup_files.snapshot(cg) if cg else {}
        self.store.record(c.id, c.name, docker, files)
        self.log.info("state.recorded", container=c.name, files=len(files), **docker)
        return True

    def _docker_originals(self, c: DockerContainer) -> dict[str, int]:
        """Docker's record of the container before Warden: from the state file, or, in
        dry-run (which records nothing), read now."""
        if (recorded := self.store.original_docker(c.id)) is not None:
            return recorded
        try:
            host_config = inspect(self.docker.api, c.id).HostConfig.model_dump()
        except DockerError:
            return {}
        return {k: int(host_config.get(k) or 0) for k in DOCKER_FIELDS}

    def _docker_update(
        self,
        target: Target,
        fields: list[str],
        originals: dict[str, int],
        reasons: str,
        report: ApplyReport,
    ) -> None:
        s = target.settings
        kwargs: dict[str, Any] = {}
        if "cpu_weight" in fields:
            kwargs["cpu_weight"] = s.cpu_weight
        if "memory_max" in fields:
            if s.memory_max is not None:
                kwargs["memory_max"] = s.memory_max
            else:  # no tier limit: the container's own, as it was created
                kwargs["memory_max"] = originals["Memory"]
                kwargs["memory_swap"] = originals.get("MemorySwap") or -1
        self.log.info(
            "apply.docker_update",
            container=target.container.name,
            dry_run=self.dry_run,
            reasons=reasons,
            **kwargs,
        )
        if self.dry_run:
            return
        try:
            update_limits(self.docker.api, target.container.id, **kwargs)
        except DockerError as exc:
            report.errors.append(f"docker update: {brief(exc)}")
            return
        self._changed()

    def _cgroup_writes(
        self, target: Target, fields: list[str], reasons: str, report: ApplyReport
    ) -> None:
        s = target.settings
        c = target.container
        cg = self._cgroups(c)
        if cg is None:
            report.errors.append("cgroup lookup: the container's process is gone")
            return
        writes: dict[str, Callable[[], Path | None]] = {
            "cpu_weight": lambda: cgroup_files.set_cpu_weight(cg, s.cpu_weight),
            "memory_max": lambda: cgroup_files.set_memory_max(cg, s.memory_max),
            "memory_high": lambda: cgroup_files.set_memory_high(cg, s.memory_high),
            "io_weight": lambda: cgroup_files.set_io_weight(cg, s.io_weight),
            "io_max": lambda: cgroup_files.set_io_max(
                cg, self.io_devices(c), present(s.io_max), self.store.original_files(c.id)
            ),
            "cpu_max": lambda: cgroup_files.set_cpu_max(cg, s.cpu_max),
            "cpu_idle": lambda: cgroup_files.set_cpu_idle(cg, s.cpu_idle),
        }
        for name in fields:
            value = getattr(s, name)
            if self.dry_run:
                self.log.info(
                    "apply.cgroup_write",
                    container=c.name,
                    control=name,
                    value=str(value),
                    dry_run=True,
                    reasons=reasons,
                )
                continue
            try:
                path = writes[name]()
            except cgroup_files.Unsupported as exc:
                if str(exc) not in self.unsupported:
                    self.unsupported.add(str(exc))
                    self.log.warning("apply.unsupported", control=str(exc))
                continue
            except OSError as exc:
                report.errors.append(f"{name}: {exc.strerror or exc}")
                continue
            if path is None:
                continue  # nothing to undo on a host without the control
            self._changed()
            self.log.info(
                "apply.cgroup_write",
                container=c.name,
                control=name,
                value=str(value),
                file=str(path),
                reasons=reasons,
            )

    def _pause_state(self, target: Target, reasons: str, report: ApplyReport) -> None:
        c = target.container
        if target.paused and c.state == "running":
            self.log.info("apply.pause", container=c.name, dry_run=self.dry_run, reasons=reasons)
            if self.dry_run:
                return
            self.store.note_pause(c.id, c.name)
            try:
                self.docker.api.pause(c.id)
            except DockerError as exc:
                # Paused already: by our own pause a moment ago, seen through a container
                # list from before it. Ours still, and still to be undone.
                if "is already paused" in str(exc):
                    return
                self.store.mark_paused(c.id, False)
                report.errors.append(f"pause: {brief(exc)}")
            else:
                self._changed()
        elif not target.paused and c.state == "paused":
            if not self.store.paused_by_warden(c.id):
                if c.id not in self._left_paused:
                    self._left_paused.add(c.id)
                    self.log.info(
                        "apply.left_paused", container=c.name, reason="not paused by Warden"
                    )
                return
            error = self.unpause(c.id, c.name, reasons)
            if error:
                report.errors.append(error)

    def unpause(self, container_id: str, name: str, reasons: str) -> str | None:
        self.log.info("apply.unpause", container=name, dry_run=self.dry_run, reasons=reasons)
        if self.dry_run:
            return None
        try:
            self.docker.api.unpause(container_id)
        except DockerError as exc:
            if "is not paused" not in str(exc) and "No such container" not in str(exc):
                return f"unpause: {brief(exc)}"
        self.store.mark_paused(container_id, False)
        return None
