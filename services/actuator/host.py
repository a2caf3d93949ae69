"""Applies targets to the host: Docker API where Docker has the setting, cgroup files otherwise.

Only values that differ from what was last applied are written. In dry-run
every change is logged as it would be made, and nothing is touched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.actuator import cgroup_files
from services.actuator.docker_control import DockerControl
from services.actuator.pause_ledger import PauseLedger
from services.actuator.plan import Settings, Target
from shared.cgroupfs import CgroupLayout, process_cgroups
from shared.docker_view import DockerError
from shared.logs import Log

DOCKER_FIELDS = ("cpu_weight", "memory_max", "cpu_max")
CGROUP_FIELDS = ("memory_high", "io_weight", "io_max")


@dataclass
class ApplyReport:
    errors: list[str] = field(default_factory=list)


class Host:
    def __init__(
        self,
        docker: DockerControl,
        layout: CgroupLayout,
        proc_root: str | Path,
        io_devices: list[str],
        ledger: PauseLedger,
        dry_run: bool,
        log: Log,
    ) -> None:
        self.docker = docker
        self.layout = layout
        self.proc_root = proc_root
        self.io_devices = io_devices
        self.ledger = ledger
        self.dry_run = dry_run
        self.log = log
        self.unsupported: set[str] = set()
        self._left_paused: set[str] = set()

    def apply(self, target: Target, last: Settings | None) -> ApplyReport:
        report = ApplyReport()
        changed = [
            name
            for name in DOCKER_FIELDS + CGROUP_FIELDS
            if last is None or getattr(last, name) != getattr(target.settings, name)
        ]
        name = target.container.name
        reasons = "; ".join(target.reasons) or "tier baseline"
        docker_changes = [f for f in changed if f in DOCKER_FIELDS]
        if docker_changes:
            self._docker_update(target, docker_changes, reasons, report)
        cgroup_changes = [f for f in changed if f in CGROUP_FIELDS]
        if cgroup_changes and target.container.pid:
            self._cgroup_writes(target, cgroup_changes, reasons, report)
        self._pause_state(target, reasons, report)
        if report.errors:
            self.log.warning("apply.failed", container=name, errors="; ".join(report.errors))
        return report

    def _docker_update(
        self, target: Target, fields: list[str], reasons: str, report: ApplyReport
    ) -> None:
        s = target.settings
        kwargs: dict[str, Any] = {}
        if "cpu_weight" in fields:
            kwargs["cpu_weight"] = s.cpu_weight
        if "memory_max" in fields and s.memory_max is not None:
            kwargs["memory_max"] = s.memory_max
        if "cpu_max" in fields:
            kwargs["cpu_max"] = s.cpu_max
        if not kwargs:
            return
        shown = {k: (v.quota_us if hasattr(v, "quota_us") else v) for k, v in kwargs.items()}
        self.log.info(
            "apply.docker_update",
            container=target.container.name,
            dry_run=self.dry_run,
            reasons=reasons,
            **shown,
        )
        if self.dry_run:
            return
        try:
            self.docker.update(target.container.id, **kwargs)
        except DockerError as exc:
            report.errors.append(f"docker update: {str(exc)[:200]}")

    def _cgroup_writes(
        self, target: Target, fields: list[str], reasons: str, report: ApplyReport
    ) -> None:
        s = target.settings
        try:
            cg = process_cgroups(self.layout, self.proc_root, target.container.pid or 0)
        except OSError as exc:
            report.errors.append(f"cgroup lookup: {exc}")
            return
        writes = {
            "memory_high": lambda: cgroup_files.set_memory_high(cg, s.memory_high),
            "io_weight": lambda: cgroup_files.set_io_weight(cg, s.io_weight),
            "io_max": lambda: cgroup_files.set_io_max(cg, self.io_devices, s.io_max),
        }
        for name in fields:
            value = getattr(s, name)
            if self.dry_run:
                self.log.info(
                    "apply.cgroup_write",
                    container=target.container.name,
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
            self.log.info(
                "apply.cgroup_write",
                container=target.container.name,
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
            self.ledger.record(c.id, c.name)
            try:
                self.docker.pause(c.id)
            except DockerError as exc:
                self.ledger.forget(c.id)
                report.errors.append(f"pause: {str(exc)[:200]}")
        elif not target.paused and c.state == "paused":
            if c.id not in self.ledger:
                if c.id not in self._left_paused:
                    self._left_paused.add(c.id)
                    self.log.info(
                        "apply.left_paused", container=c.name, reason="not paused by Warden"
                    )
                return
            self.unpause(c.id, c.name, reasons)

    def unpause(self, container_id: str, name: str, reasons: str) -> str | None:
        self.log.info("apply.unpause", container=name, dry_run=self.dry_run, reasons=reasons)
        if self.dry_run:
            return None
        try:
            self.docker.unpause(container_id)
        except DockerError as exc:
            if "is not paused" not in str(exc) and "No such container" not in str(exc):
                return f"unpause: {str(exc)[:200]}"
        self.ledger.forget(container_id)
        return None
