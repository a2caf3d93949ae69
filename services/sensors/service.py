"""Wiring: every sensor publishes its fact on change and on a heartbeat.

Pressure (PSI triggers) lives in pressure_sensor.py and media streams in
streams/; the container inventory follows Docker's events; thermal, GPU and
resources are sampled, since no kernel event announces their changes.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from host.cgroups.view import detect_layout, process_cgroups
from host.docker import view as docker_view
from host.docker.client import DockerError, Endpoint, Engine
from host.docker.client import reason as docker_reason
from services.sensors import host_processes
from services.sensors.gpu import GpuReader
from services.sensors.gpu.owners import owner, with_owners
from services.sensors.inventory import container_facts
from services.sensors.pressure_sensor import PressureSensor
from services.sensors.resources import ResourceSampler, RunningContainer
from services.sensors.thermal import read_thermal
from shared.channels import SENSOR_FACTS, STREAMS
from shared.config import WardenConfig
from shared.config.docker import SENSORS_URL_ENV
from shared.messages import (
    ContainerInventory,
    GpuFact,
    StreamsFact,
)
from shared.runtime import Timer
from shared.service import ServiceContext
from shared.topics import SensorKind

if TYPE_CHECKING:
    from services.sensors.streams.watcher import StreamWatcher


def _content(message: BaseModel) -> dict[str, Any]:
    return message.model_dump(exclude={"ts"})


# A rate over less than this is too coarse to tell who uses most (CPU time comes in ticks).
MIN_RATE_SECONDS = 0.25
# Docker's events keep the inventory current; a full list this often anyway, in case the
# stream lost something without closing.
RELIST_SECONDS = 60.0


def must_relist(stream: int | None, listed_with: int | None, listed_ago: float) -> bool:
    """Whether Docker's events may have missed something since the last list: no event stream
    open now (stream None), another one than was open when it was taken, or a resync due."""
    return stream is None or stream != listed_with or listed_ago >= RELIST_SECONDS


def resample_delay(now: float, last_sample_at: float) -> float:
    """How long until a sample taken on demand gives rates worth reading (0: now)."""
    return max(0.0, last_sample_at + MIN_RATE_SECONDS - now)


class SensorsService:
    # Readers, sources and timers set up once at start; the media watcher, the tiers and
    # the conditions' processes follow a reload.
    restart_only = ("sensors", "process_groups")

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        cfg = ctx.config
        self.settings = cfg.sensors
        self.matcher = cfg.tier_matcher()
        self.layout = detect_layout(self.settings.cgroup_root)
        self._last: dict[str, dict[str, Any]] = {}
        self._last_sent: dict[str, float] = {}
        # Under warden-stack and systemd: the read-only proxy, never the engine's own socket.
        endpoint = Endpoint.of(self.settings.pointed_by(os.environ, SENSORS_URL_ENV), "sensors")
        self.docker = Engine(endpoint)
        self._docker_problem: str | None = None
        self._pids: dict[str, int] = {}
        # Docker's list as last taken, and the event stream that was open then.
        self._listed: list[docker_view.DockerContainer] | None = None
        self._listed_at = float("-inf")
        self._listed_stream: int | None = None

        loop, bus = ctx.loop, ctx.bus
        interval = cfg.general.poll_interval_seconds
        self._running: dict[str, RunningContainer] = {}
        self.pressure = PressureSensor(
            ctx, self._publish_fact, self._heartbeat_due, self.publish_resources_now
        )
        self.pressure.start()
        loop.call_every(interval, self._poll_inventory)
        bus.on_connect(self._republish)
        self._events = docker_view.EventWatcher(
            endpoint,
            lambda event: loop.post(self.on_docker_event, event),
            ctx.log,
            on_reconnect=lambda: loop.post(self.publish_inventory),
        )
        self._events.start()
        loop.on_stop(self._events.stop)
        self._streams: StreamWatcher | None = None
        # A fresh reading after every (re)connect, rather than a stale one re-sent.
        bus.on_connect(lambda: self._streams.reconcile() if self._streams else None)
        loop.on_stop(lambda: self._streams.stop() if self._streams else None)
        self._start_streams()
        self._start_thermal()
        self._start_gpu()
        self._start_resources()
        self._start_processes()

    def _publish_fact(self, kind: SensorKind, message: BaseModel) -> None:
        """Publish when the content changed, or when the heartbeat is due."""
        content = _content(message)
        now = self.ctx.loop.now()
        if content == self._last.get(kind) and not self._heartbeat_due(kind):
            return
        self._last[kind] = content
        self._last_sent[kind] = now
        self.ctx.bus.send(SENSOR_FACTS[kind], message)

    def _heartbeat_due(self, kind: str) -> bool:
        last = self._last_sent.get(kind, float("-inf"))
        return self.ctx.loop.now() - last >= self.settings.heartbeat_seconds

    def _republish(self) -> None:
        self._last_sent.clear()
        self.pressure.publish_pressure()
        self.publish_inventory()

    def _poll_inventory(self) -> None:
        """Each poll refreshes memory use; Docker's list is taken again only when needed."""
        now = self.ctx.loop.now()
        self.publish_inventory(
            relist=must_relist(self._events.stream, self._listed_stream, now - self._listed_at)
        )

    def publish_inventory(self, relist: bool = True) -> None:
        if relist or self._listed is None:
            stream = self._events.stream
            try:
                listed = docker_view.list_containers(
                    self.docker.api, self._pids, self.settings.proc_root
                )
            except DockerError as exc:
                self._listed = None
                reason = docker_reason(exc)
                if reason != self._docker_problem:
                    self.ctx.log.warning("inventory.unavailable", reason=reason)
                    self._docker_problem = reason
                return  # no inventory is "unknown": we publish nothing rather than an empty list
            if self._docker_problem:
                self.ctx.log.info("inventory.available")
                self._docker_problem = None
            self._listed, self._listed_at, self._listed_stream = listed, self.ctx.loop.now(), stream
            self._track_containers(listed)
        containers = self._listed
        facts = container_facts(
            containers,
            self.matcher,
            self.layout,
            self.settings.proc_root,
            {cid: rc.cgroups for cid, rc in self._running.items()},
        )
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
        media = self._media = self.ctx.config.media_mode
        self._watching = self.ctx.config.watches_streams
        if not self._watching:
            return  # webhook/none: triggers drive media mode, no server to ask
        # Imported here: the providers, their reply models and the webhook receiver are
        # about a megabyte that a host with no media server to ask does not carry.
        from services.sensors.streams.watcher import StreamWatcher

        self._streams = StreamWatcher(
            media, self.ctx.config.host_id, self.ctx.loop, self.ctx.log, self.publish_streams
        )
        self._streams.start()
        if self.ctx.bus.connected:
            self._streams.reconcile()

    def reload(self, config: WardenConfig) -> None:
        """New tiers: the inventory again now; a new media server: a new watcher; new
        conditions: their processes looked for now."""
        self.matcher = config.tier_matcher()
        self._conditions = host_processes.watched(config.conditions)
        self.publish_processes()
        if config.media_mode != self._media or config.watches_streams != self._watching:
            if self._streams is not None:
                self._streams.stop()
                self._streams = None
            self._start_streams()
        self.publish_inventory()

    def publish_streams(self, fact: StreamsFact) -> None:
        # Every reading goes out, changed or not: the governor judges staleness by arrival.
        self.ctx.bus.send(STREAMS, fact)

    def _track_containers(self, containers: list[docker_view.DockerContainer]) -> None:
        """Keep resource readings and per-container pressure in step with what Docker runs."""
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
        self.pressure.track(
            {cid: rc for cid, rc in running.items() if self.matcher.tier_of(rc.name) is not None}
        )

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

    def gpu_process_container(self, pid: int) -> str | None:
        """The container a GPU process runs in (the GPU sharing rule and incidents ask)."""
        try:
            cgroups = process_cgroups(self.layout, self.settings.proc_root, pid)
        except OSError:
            return None  # gone, or another pid namespace's
        running = [(rc.name, rc.cgroups) for rc in self._running.values()]
        return owner(cgroups, running, self.layout)

    def publish_gpu(self, fact: GpuFact) -> None:
        fact = with_owners(fact, self.gpu_process_container)
        if fact.reasons != self._gpu_reasons:
            if fact.reasons:
                level = self.ctx.log.info if fact.available else self.ctx.log.warning
                level("gpu.reasons", available=fact.available, reasons="; ".join(fact.reasons))
            self._gpu_reasons = fact.reasons
        self._publish_fact("gpu", fact)

    # --- CPU, memory, disk I/O --------------------------------------------------

    def _start_resources(self) -> None:
        self._resources = ResourceSampler(
            self.settings.proc_root,
            self.settings.sys_root,
            self.ctx.config.process_groups,
            top=self.settings.top_processes,
        )
        self._resources_errors: list[str] | None = None
        self._resources_at = float("-inf")
        self._resample: Timer | None = None
        interval = self.ctx.config.general.poll_interval_seconds
        self.ctx.loop.call_every(interval, self.publish_resources)

    def publish_resources_now(self) -> None:
        """Between samples, when a protected container stalls: the protect rule limits whoever
        uses most now, and that may be a hog started after the last sample."""
        if self._resample is not None:
            return  # one is on its way
        delay = resample_delay(self.ctx.loop.now(), self._resources_at)
        if delay == 0:
            self.publish_resources()
            return
        self._resample = self.ctx.loop.call_later(delay, self.publish_resources)

    def publish_resources(self) -> None:
        if self._resample is not None:
            # This is the sample a stall asked for, or a poll come first: no second one on
            # its heels, whose rates would span too short a time.
            self._resample.cancel()
            self._resample = None
        self._resources_at = self.ctx.loop.now()
        fact = self._resources.sample(self.ctx.config.host_id, self.ctx.loop.now(), self._running)
        if fact.errors != self._resources_errors:
            if fact.errors:
                self.ctx.log.warning("resources.unreadable", errors="; ".join(fact.errors))
            self._resources_errors = fact.errors
        self._publish_fact("resources", fact)

    # --- the processes conditions watch ----------------------------------------

    def _start_processes(self) -> None:
        """Read /proc for the conditions' processes; nothing at all while none names one."""
        self._conditions = host_processes.watched(self.ctx.config.conditions)
        self.ctx.loop.call_every(self.settings.condition_scan_seconds, self.publish_processes)
        self.publish_processes()

    def publish_processes(self) -> None:
        if not self._conditions:
            return
        fact = host_processes.scan(
            self.settings.proc_root,
            self._conditions,
            self.ctx.config.host_id,
            exclude=(os.getpid(), os.getppid()),
        )
        before = self._last.get("processes")
        if fact.error is not None and (before or {}).get("error") != fact.error:
            self.ctx.log.warning("processes.unreadable", reason=fact.error)
        running = sorted(c.condition for c in fact.conditions if c.running)
        was = sorted(c["condition"] for c in (before or {}).get("conditions", []) if c["running"])
        if running != was:
            self.ctx.log.info("processes.changed", running=",".join(running) or "none")
        self._publish_fact("processes", fact)
