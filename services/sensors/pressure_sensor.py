"""The pressure sensor: PSI triggers on the host and on each managed container's cgroup.

It publishes the moment the kernel reports a threshold crossed, follows the
averages window by window until they have caught up, and falls back to
polling where triggers are refused (reported once), with a heartbeat beside.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from services.sensors.pressure import (
    RESOURCES,
    PressureParseError,
    read_cgroup_pressure,
    read_pressure,
    stall_share,
)
from services.sensors.psi_triggers import (
    FOLLOW_SECONDS,
    HOST,
    PsiTriggers,
    cgroup_paths,
    elevated,
    host_paths,
    protect_specs,
    trigger_specs,
)
from services.sensors.resources import RunningContainer
from shared.messages import (
    ContainerPressure,
    PressureFact,
    PsiTriggerFired,
    ResourcePressure,
)
from shared.service import ServiceContext
from shared.topics import SensorKind


class PressureSensor:
    def __init__(
        self,
        ctx: ServiceContext,
        publish: Callable[[SensorKind, BaseModel], None],
        heartbeat_due: Callable[[str], bool],
        on_container_stall: Callable[[], None] = lambda: None,
    ) -> None:
        self.ctx = ctx
        self._on_container_stall = on_container_stall
        self.settings = ctx.config.sensors
        self._publish_fact = publish
        self._heartbeat_due = heartbeat_due
        self._pressure_problems: dict[str, str | None] = {}
        self._matcher = ctx.config.tier_matcher()
        # A cgroup's pressure files are read at most once per trigger window: reading
        # memory.pressure much more often keeps that cgroup's triggers from firing.
        self._window = float(self.settings.psi_window_seconds)
        # Container id -> (when read, its last reading, its `total` stall per resource).
        self._container_reads: dict[str, tuple[float, ContainerPressure, dict[str, int]]] = {}

    def start(self) -> None:
        """Arm the host's PSI triggers; read and publish when one fires, and on a heartbeat."""
        cfg, loop = self.ctx.config, self.ctx.loop
        self._psi_specs = trigger_specs(cfg)
        self._protect_specs = protect_specs(cfg)
        # scope ("host" or a container id) -> why it is polled instead of triggered.
        self._psi_fallback: dict[str, str] = {}
        self._psi_reported: set[str] = set()
        self._psi_fired: list[PsiTriggerFired] = []
        self._psi_follow_until = float("-inf")
        self._psi_elevated: list[str] = []
        self._psi_last_read = float("-inf")
        # Managed containers' cgroup2 directories: container id -> (name, directory).
        self._pressure_cgroups: dict[str, tuple[str, Path]] = {}
        self._psi = PsiTriggers(
            on_fire=lambda fired: loop.post(self._on_psi_fired, fired),
            on_lost=lambda scope, why: loop.post(self._on_psi_lost, scope, why),
            log=self.ctx.log,
        )
        loop.on_stop(self._psi.close)
        self._arm_psi(HOST, host_paths(self.settings.proc_root))
        # Ticks often enough to follow a firing window by window; most ticks read nothing.
        tick = min(float(self.settings.psi_window_seconds), cfg.general.poll_interval_seconds)
        loop.call_every(tick, self._pressure_tick)

    def _arm_psi(self, scope: str, paths: dict[Any, Path]) -> None:
        specs = self._psi_specs if scope == HOST else self._protect_specs
        if not self.settings.psi_triggers:
            problem: str | None = "sensors.psi_triggers is false"
        else:
            problem = self._psi.add(scope, paths, specs)
        if problem is None:
            self._psi_fallback.pop(scope, None)
            if scope == HOST:
                armed = ", ".join(
                    f"{t.resource} {t.line} {t.stall_us}us/{t.window_us}us" for t in self._psi_specs
                )
                self.ctx.log.info("pressure.triggers_armed", scope=scope, triggers=armed)
            return
        self._psi_fallback[scope] = problem
        # Reported once: for the host, and once for all containers (they fail alike).
        kind = HOST if scope == HOST else "containers"
        if kind not in self._psi_reported:
            self._psi_reported.add(kind)
            self.ctx.log.warning(
                "pressure.triggers_unavailable",
                scope=kind,
                reason=problem,
                fallback=f"polling every {self.ctx.config.general.poll_interval_seconds:g}s",
            )

    def _pressure_tick(self) -> None:
        now = self.ctx.loop.now()
        following = now < self._psi_follow_until or bool(self._psi_elevated)
        polling = bool(self._psi_fallback) and (
            now - self._psi_last_read >= self.ctx.config.general.poll_interval_seconds
        )
        if following or polling or self._heartbeat_due("pressure"):
            self.publish_pressure()

    def _on_psi_fired(self, fired: list[PsiTriggerFired]) -> None:
        self.ctx.log.debug(
            "pressure.trigger_fired",
            triggers=", ".join(f"{f.scope} {f.resource} {f.line}" for f in fired),
        )
        self._psi_fired.extend(fired)
        # avg10 lags the stall that fired the trigger: follow it until it has caught up.
        self._psi_follow_until = self.ctx.loop.now() + FOLLOW_SECONDS
        self.publish_pressure()
        if any(f.scope != HOST for f in fired):
            # The protect rule picks whom to limit by what each container uses now.
            self._on_container_stall()

    def _on_psi_lost(self, scope: str, why: str) -> None:
        self.ctx.log.debug("pressure.triggers_lost", scope=scope, reason=why)
        self._pressure_cgroups.pop(scope, None)

    def _read_psi(self, read: Any, resource: str, key: str) -> ResourcePressure | None:
        try:
            value = read(resource)
            problem = None
        except (OSError, PressureParseError) as exc:
            value, problem = None, str(exc)
        if key == HOST and problem != self._pressure_problems.get(resource):
            # Reported once per change, not every reading.
            if problem:
                self.ctx.log.warning("pressure.unavailable", resource=resource, reason=problem)
            else:
                self.ctx.log.info("pressure.available", resource=resource)
            self._pressure_problems[resource] = problem
        return value

    def publish_pressure(self) -> None:
        proc_root = self.settings.proc_root
        host = {
            r: self._read_psi(lambda res: read_pressure(proc_root, res), r, HOST) for r in RESOURCES
        }
        high = elevated(self.ctx.config, host["cpu"], host["memory"], host["io"])
        containers = []
        for cid, (name, directory) in sorted(self._pressure_cgroups.items(), key=lambda i: i[1]):
            reading = self._container_pressure(cid, name, directory)
            high += self._stalled(reading)
            containers.append(reading)
        self._psi_last_read = self.ctx.loop.now()
        self._psi_elevated = high
        fact = PressureFact(
            host=self.ctx.config.host_id,
            mode="polling" if HOST in self._psi_fallback else "triggers",
            fired=self._psi_fired,
            containers=containers,
            cpu=host["cpu"],
            memory=host["memory"],
            io=host["io"],
        )
        self._psi_fired = []
        self._publish_fact("pressure", fact)

    def _container_pressure(self, cid: str, name: str, directory: Path) -> ContainerPressure:
        """The container's pressure, read afresh once a window has passed since the last read,
        with its some-stall share since then (stall_share)."""
        now = self.ctx.loop.now()
        last = self._container_reads.get(cid)
        if last is not None and now - last[0] < self._window and last[1].name == name:
            return last[1]
        values = {
            r: self._read_psi(lambda res, d=directory: read_cgroup_pressure(d, res), r, cid)
            for r in RESOURCES
        }
        totals = {r: v.some.total for r, v in values.items() if v is not None}
        stall = []
        if last is not None:
            seconds = now - last[0]
            for resource, value in values.items():
                if value is not None:
                    before = last[2].get(resource)
                    share = stall_share(resource, before, value.some, seconds, self._window)
                    if share is not None:
                        stall.append(share)
        reading = ContainerPressure(id=cid, name=name, source=str(directory), stall=stall, **values)
        self._container_reads[cid] = (now, reading, totals)
        return reading

    def _stalled(self, reading: ContainerPressure) -> list[str]:
        """A watched container still stalling above its share: follow it window by window."""
        if not self._matcher.watched(reading.name) or not self.ctx.config.protect.enabled:
            return []
        shares = self.ctx.config.protect.stall_percent
        return [
            f"{reading.name} {s.resource} stall {s.some_percent}% > {getattr(shares, s.resource)}"
            for s in reading.stall
            if s.some_percent > getattr(shares, s.resource)
        ]

    def track(self, managed: dict[str, RunningContainer]) -> None:
        """Keep per-container triggers in step with the managed containers Docker runs."""
        before = dict(self._pressure_cgroups)
        for cid in [cid for cid in self._pressure_cgroups if cid not in managed]:
            self._psi.remove(cid)
            self._psi_fallback.pop(cid, None)
            self._container_reads.pop(cid, None)
            del self._pressure_cgroups[cid]
        for cid, rc in managed.items():
            if cid in self._pressure_cgroups:
                self._pressure_cgroups[cid] = (rc.name, self._pressure_cgroups[cid][1])
                continue
            # Only a watched container's own stall acts (the protect rule): bulk ones are
            # read on the host's readings, never woken for.
            watched = self.ctx.config.protect.enabled and self._matcher.watched(rc.name)
            if rc.cgroups.v2 is None:
                if watched:
                    self._psi_fallback.setdefault(cid, "no cgroup2 hierarchy: no per-container PSI")
                continue
            self._pressure_cgroups[cid] = (rc.name, rc.cgroups.v2)
            if watched:
                self._arm_psi(cid, cgroup_paths(rc.cgroups.v2))
        if self._pressure_cgroups != before:
            # The pressure fact lists the managed containers: a new or gone one is a change.
            self.ctx.loop.post(self.publish_pressure)
