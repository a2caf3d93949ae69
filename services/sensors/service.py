"""Wiring: read PSI and the Docker inventory, publish them on change and on a heartbeat."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from services.sensors.gpu import GpuReader
from services.sensors.inventory import container_facts
from services.sensors.pressure import (
    RESOURCES,
    PressureParseError,
    read_cgroup_pressure,
    read_pressure,
)
from services.sensors.psi_triggers import (
    FOLLOW_SECONDS,
    HOST,
    PsiTriggers,
    cgroup_paths,
    elevated,
    host_paths,
    trigger_specs,
)
from services.sensors.resources import ResourceSampler, RunningContainer
from services.sensors.streams.watcher import StreamWatcher
from services.sensors.thermal import read_thermal
from shared import docker_view
from shared.cgroupfs import detect_layout, process_cgroups
from shared.messages import (
    ContainerInventory,
    ContainerPressure,
    GpuFact,
    PressureFact,
    PsiTriggerFired,
    ResourcePressure,
    StreamsFact,
)
from shared.service import ServiceContext


def _content(message: BaseModel) -> dict[str, Any]:
    return message.model_dump(exclude={"ts"})


class SensorsService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        cfg = ctx.config
        self.settings = cfg.sensors
        self.matcher = cfg.tier_matcher()
        self.layout = detect_layout(self.settings.cgroup_root)
        self._last: dict[str, dict[str, Any]] = {}
        self._last_sent: dict[str, float] = {}
        self._pressure_problems: dict[str, str] = {}
        self._docker: Any = None
        self._docker_problem: str | None = None

        loop, bus = ctx.loop, ctx.bus
        interval = cfg.general.poll_interval_seconds
        self._start_pressure()
        loop.call_every(interval, self.publish_inventory)
        bus.on_connect(self._republish)
        self._events = docker_view.EventWatcher(
            self.settings.docker_url,
            lambda event: loop.post(self.on_docker_event, event),
            ctx.log,
            on_reconnect=lambda: loop.post(self.publish_inventory),
        )
        self._events.start()
        loop.on_stop(self._events.stop)
        self._start_streams()
        self._start_thermal()
        self._start_gpu()
        self._start_resources()

    def _publish_fact(self, kind: str, message: BaseModel) -> None:
        """Publish when the content changed, or when the heartbeat is due."""
        content = _content(message)
        now = self.ctx.loop.now()
        heartbeat_due = (
            now - self._last_sent.get(kind, float("-inf")) >= self.settings.heartbeat_seconds
        )
        if content == self._last.get(kind) and not heartbeat_due:
            return
        self._last[kind] = content
        self._last_sent[kind] = now
        self.ctx.bus.publish(self.ctx.topics.sensor(kind), message, retain=True)  # type: ignore[arg-type]

    def _republish(self) -> None:
        self._last_sent.clear()
        self.publish_pressure()
        self.publish_inventory()

    def _api(self) -> Any:
        if self._docker is None:
            self._docker = docker_view.connect(self.settings.docker_url)
        return self._docker

    def publish_inventory(self) -> None:
        try:
            containers = docker_view.list_containers(self._api())
        except docker_view.DockerError as exc:
            self._docker = None
            reason = str(exc)[:200]
            if reason != self._docker_problem:
                self.ctx.log.warning("inventory.unavailable", reason=reason)
                self._docker_problem = reason
            return  # no inventory is "unknown": we publish nothing rather than an empty list
        if self._docker_problem:
            self.ctx.log.info("inventory.available")
            self._docker_problem = None
        self._track_containers(containers)
        facts = container_facts(containers, self.matcher, self.layout, self.settings.proc_root)
        inventory = ContainerInventory(
            host=self.ctx.config.host_id, cpu_count=os.cpu_count() or 1, containers=facts
        )
        self._publish_fact("containers", inventory)

    def on_docker_event(self, event: docker_view.ContainerEvent) -> None:
        self.ctx.log.debug("docker.event", action=event.action, container=event.name)
        self.publish_inventory()

    # --- media streams ------------------------------------------------------

    def _start_streams(self) -> None:
        """Ask the media server for sessions, on webhooks and on a slow poll, when it has one."""
        self._streams: StreamWatcher | None = None
        media = self.ctx.config.media_mode
        if not media.queries_server:
            return  # webhook/none: triggers drive media mode, no server to ask
        self._streams = StreamWatcher(
            media, self.ctx.config.host_id, self.ctx.loop, self.ctx.log, self.publish_streams
        )
        self._streams.start()
        # A fresh reading after every (re)connect, rather than a stale one re-sent.
        self.ctx.bus.on_connect(self._streams.reconcile)
        self.ctx.loop.on_stop(self._streams.stop)

    def publish_streams(self, fact: StreamsFact) -> None:
        # Every reading goes out, changed or not: the governor judges staleness by arrival.
        self.ctx.bus.publish(self.ctx.topics.sensor("streams"), fact, retain=True)

    # --- pressure: PSI triggers, polling where the kernel refuses them --------

    def _start_pressure(self) -> None:
        """Arm the host's PSI triggers; read and publish when one fires, and on a heartbeat."""
        cfg, loop = self.ctx.config, self.ctx.loop
        self._psi_specs = trigger_specs(cfg)
        # scope ("host" or a container id) -> why it is polled instead of triggered.
        self._psi_fallback: dict[str, str] = {}
        self._psi_reported: set[str] = set()
        self._psi_fired: list[PsiTriggerFired] = []
        self._psi_follow_until = float("-inf")
        self._psi_elevated: list[str] = []
        self._psi_last_read = float("-inf")
        # Managed containers' cgroup2 directories: container id -> (name, directory).
        self._pressure_cgroups: dict[str, tuple[str, Path]] = {}
        self._running: dict[str, RunningContainer] = {}
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
        if not self.settings.psi_triggers:
            problem: str | None = "sensors.psi_triggers is false"
        else:
            problem = self._psi.add(scope, paths, self._psi_specs)
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
        heartbeat = (
            now - self._last_sent.get("pressure", float("-inf")) >= self.settings.heartbeat_seconds
        )
        if following or polling or heartbeat:
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
            self._pressure_problems[resource] = problem  # type: ignore[assignment]
        return value

    def publish_pressure(self) -> None:
        proc_root = self.settings.proc_root
        host = {
            r: self._read_psi(lambda res: read_pressure(proc_root, res), r, HOST) for r in RESOURCES
        }
        high = elevated(self.ctx.config, host["cpu"], host["memory"], host["io"])
        containers = []
        for cid, (name, directory) in sorted(self._pressure_cgroups.items(), key=lambda i: i[1]):
            values = {
                r: self._read_psi(lambda res, d=directory: read_cgroup_pressure(d, res), r, cid)
                for r in RESOURCES
            }
            high += elevated(self.ctx.config, values["cpu"], values["memory"], values["io"])
            containers.append(ContainerPressure(id=cid, name=name, source=str(directory), **values))
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

    def _track_containers(self, containers: list[docker_view.DockerContainer]) -> None:
        """Keep per-container triggers and readings in step with what Docker runs."""
        running: dict[str, RunningContainer] = {}
        for c in containers:
            if not c.pid:
                continue
            try:
                cgroups = process_cgroups(self.layout, self.settings.proc_root, c.pid)
            except OSError:
                continue  # exited between the list and the read
            running[c.id] = RunningContainer(c.id, c.name, cgroups)
        self._running = running
        managed = {
            cid: rc for cid, rc in running.items() if self.matcher.tier_of(rc.name) is not None
        }
        before = dict(self._pressure_cgroups)
        for cid in [cid for cid in self._pressure_cgroups if cid not in managed]:
            self._psi.remove(cid)
            self._psi_fallback.pop(cid, None)
            del self._pressure_cgroups[cid]
        for cid, rc in managed.items():
            if cid in self._pressure_cgroups:
                self._pressure_cgroups[cid] = (rc.name, self._pressure_cgroups[cid][1])
                continue
            if rc.cgroups.v2 is None:
                self._psi_fallback.setdefault(cid, "no cgroup2 hierarchy: no per-container PSI")
                continue
            self._pressure_cgroups[cid] = (rc.name, rc.cgroups.v2)
            self._arm_psi(cid, cgroup_paths(rc.cgroups.v2))
        if self._pressure_cgroups != before:
            # The pressure fact lists the managed containers: a new or gone one is a change.
            self.ctx.loop.post(self.publish_pressure)

    # --- thermal --------------------------------------------------------------

    def _start_thermal(self) -> None:
        """No kernel event announces a temperature change: thermal is sampled, sent on change."""
        self._thermal_reason: str | None = None
        interval = self.ctx.config.general.poll_interval_seconds
        self.ctx.loop.call_every(interval, self.publish_thermal)

    def publish_thermal(self) -> None:
        thermal = self.settings.thermal
        fact = read_thermal(
            self.ctx.config.host_id, self.settings.sys_root, thermal.include, thermal.exclude
        )
        if fact.reason != self._thermal_reason:
            if fact.reason:
                self.ctx.log.warning("thermal.unavailable", reason=fact.reason)
            else:
                self.ctx.log.info("thermal.available", sensors=len(fact.sensors))
            self._thermal_reason = fact.reason
        self._publish_fact("thermal", fact)

    # --- GPU ------------------------------------------------------------------

    def _start_gpu(self) -> None:
        """GPU readings run on their own thread: NVML and nvidia-smi may block for seconds."""
        self._gpu_reasons: list[str] | None = None
        reader = GpuReader(self.settings.gpu, self.settings.sys_root, self.settings.proc_root)
        stop = threading.Event()
        interval = self.ctx.config.general.poll_interval_seconds
        host = self.ctx.config.host_id

        def run() -> None:
            while not stop.is_set():
                try:
                    self.ctx.loop.post(self.publish_gpu, reader.read(host))
                except Exception:
                    self.ctx.log.exception("gpu.read_failed")
                stop.wait(interval)

        threading.Thread(target=run, name="gpu", daemon=True).start()
        self.ctx.loop.on_stop(stop.set)

    def publish_gpu(self, fact: GpuFact) -> None:
        if fact.reasons != self._gpu_reasons:
            if fact.reasons:
                level = self.ctx.log.info if fact.available else self.ctx.log.warning
                level("gpu.reasons", available=fact.available, reasons="; ".join(fact.reasons))
            self._gpu_reasons = fact.reasons
        self._publish_fact("gpu", fact)

    # --- CPU, memory, disk I/O --------------------------------------------------

    def _start_resources(self) -> None:
        self._resources = ResourceSampler(
            self.settings.proc_root, self.settings.sys_root, self.ctx.config.process_groups
        )
        self._resources_errors: list[str] | None = None
        interval = self.ctx.config.general.poll_interval_seconds
        self.ctx.loop.call_every(interval, self.publish_resources)

    def publish_resources(self) -> None:
        fact = self._resources.sample(self.ctx.config.host_id, self.ctx.loop.now(), self._running)
        if fact.errors != self._resources_errors:
            if fact.errors:
                self.ctx.log.warning("resources.unreadable", errors="; ".join(fact.errors))
            self._resources_errors = fact.errors
        self._publish_fact("resources", fact)
