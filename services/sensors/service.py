"""Wiring: read PSI and the Docker inventory, publish them on change and on a heartbeat."""

from __future__ import annotations

import os
from typing import Any

from pydantic import BaseModel

from services.sensors.inventory import container_facts
from services.sensors.pressure import RESOURCES, PressureParseError, read_pressure
from shared import docker_view
from shared.cgroupfs import detect_layout
from shared.messages import ContainerInventory, PressureFact
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
        loop.call_every(interval, self.publish_pressure)
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

    def publish_pressure(self) -> None:
        values = {}
        for resource in RESOURCES:
            try:
                values[resource] = read_pressure(self.settings.proc_root, resource)
                problem = None
            except (OSError, PressureParseError) as exc:
                values[resource] = None
                problem = str(exc)
            if problem != self._pressure_problems.get(resource):
                # Reported once per change, not every poll.
                if problem:
                    self.ctx.log.warning("pressure.unavailable", resource=resource, reason=problem)
                else:
                    self.ctx.log.info("pressure.available", resource=resource)
                self._pressure_problems[resource] = problem  # type: ignore[assignment]
        fact = PressureFact(host=self.ctx.config.host_id, **values)
        self._publish_fact("pressure", fact)

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
        facts = container_facts(containers, self.matcher, self.layout, self.settings.proc_root)
        inventory = ContainerInventory(
            host=self.ctx.config.host_id, cpu_count=os.cpu_count() or 1, containers=facts
        )
        self._publish_fact("containers", inventory)

    def on_docker_event(self, event: docker_view.ContainerEvent) -> None:
        self.ctx.log.debug("docker.event", action=event.action, container=event.name)
        self.publish_inventory()
