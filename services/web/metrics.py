"""Prometheus /metrics: gauges read from the view at scrape time, counters from the bus."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from services.web.view import View
from shared.messages import Applied
from shared.messages.incidents import Incident

# Forget a trigger no applied state followed within this long (it changed nothing).
LATENCY_WINDOW_SECONDS = 120.0
# Incidents whose time to action was observed, remembered so none counts twice.
TIMED_KEPT = 1000


class ViewCollector(Collector):
    def __init__(self, view: View) -> None:
        self._view = view

    @staticmethod
    def _reasons(v: View) -> GaugeMetricFamily:
        """How many containers and process groups each reason holds now: every reason the
        governor's catalogue lists (0 while it holds none), and any it gives beyond it."""
        reasons = GaugeMetricFamily(
            "warden_reason_targets",
            "containers and process groups a reason holds now",
            labels=["reason", "rule"],
        )
        held: dict[str, int] = {}
        if v.desired:
            reasons_of = [i.reasons for i in v.desired.containers.values()]
            reasons_of += [g.reasons for g in v.desired.process_groups.values()]
            for given in reasons_of:
                for name in {r.rule for r in given}:
                    held[name] = held.get(name, 0) + 1
        rule_of = {c.reason: c.rule for c in v.catalogue.cards} if v.catalogue else {}
        for name in sorted(set(rule_of) | set(held)):
            reasons.add_metric([name, rule_of.get(name, "")], held.get(name, 0))
        return reasons

    def collect(self) -> Iterator[Metric]:
        v = self._view
        psi = GaugeMetricFamily(
            "warden_pressure_avg10", "PSI avg10 (percent)", labels=["resource", "line"]
        )
        if v.pressure:
            for kind in ("cpu", "memory", "io"):
                res = getattr(v.pressure, kind)
                if res is not None:
                    psi.add_metric([kind, "some"], res.some.avg10)
                    if res.full is not None:
                        psi.add_metric([kind, "full"], res.full.avg10)
        yield psi
        temp = GaugeMetricFamily(
            "warden_temperature_celsius", "temperature sensors", labels=["sensor"]
        )
        if v.thermal:
            for s in v.thermal.sensors:
                if s.celsius is not None:
                    temp.add_metric([s.name], s.celsius)
        yield temp
        gpu_use = GaugeMetricFamily(
            "warden_gpu_utilization_percent", "GPU use", labels=["gpu", "vendor"]
        )
        gpu_temp = GaugeMetricFamily(
            "warden_gpu_temperature_celsius", "GPU temperature", labels=["gpu", "vendor"]
        )
        if v.gpu and v.gpu.available:
            for d in v.gpu.gpus:
                labels = [str(d.index), d.vendor]
                if d.utilization_percent is not None:
                    gpu_use.add_metric(labels, d.utilization_percent)
                if d.temperature_celsius is not None:
                    gpu_temp.add_metric(labels, d.temperature_celsius)
        yield gpu_use
        yield gpu_temp
        host = GaugeMetricFamily("warden_host", "host use (percent)", labels=["what"])
        if v.resources:
            m = v.resources.machine
            for what, value in (
                ("cpu_percent", m.cpu_percent),
                ("memory_percent", m.memory_used_percent),
            ):
                if value is not None:
                    host.add_metric([what], value)
        yield host
        paused = GaugeMetricFamily(
            "warden_container_paused", "1: paused as applied", labels=["container", "tier"]
        )
        throttled = GaugeMetricFamily(
            "warden_container_throttled",
            "1: a cpu, io or memory limit beyond the tier baseline is applied",
            labels=["container", "tier"],
        )
        tier = GaugeMetricFamily("warden_container_tier", "the tier", labels=["container"])
        if v.applied:
            for c in v.applied.containers:
                labels = [c.name, str(c.tier)]
                paused.add_metric(labels, 1.0 if c.paused else 0.0)
                throttled.add_metric(labels, 1.0 if c.throttled else 0.0)
                tier.add_metric([c.name], c.tier)
        yield paused
        yield throttled
        yield tier
        yield self._reasons(v)
        media = GaugeMetricFamily("warden_media_mode_active", "1: media mode is on")
        media.add_metric([], 1.0 if v.desired and v.desired.media_mode else 0.0)
        yield media
        stage = GaugeMetricFamily("warden_thermal_stage", "the thermal stage (0-2)")
        stage.add_metric([], v.memory.status.thermal_stage if v.memory else 0)
        yield stage
        if v.streams and v.streams.count is not None:
            streams = GaugeMetricFamily("warden_media_streams", "streams media mode counts")
            streams.add_metric([], v.streams.count)
            yield streams


class Metrics:
    def __init__(self, view: View) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(ViewCollector(view))
        self.decisions = Counter(
            "warden_decisions",
            "changes of the desired state",
            ["action"],
            registry=self.registry,
        )
        self.actions = Counter(
            "warden_actions", "one-shot actions sent", ["kind"], registry=self.registry
        )
        self.applied = Counter(
            "warden_applied", "states the actuator applied", ["mode"], registry=self.registry
        )
        self.refusals = Counter(
            "warden_refusals", "controls the actuator refused", registry=self.registry
        )
        self.triggers = Counter(
            "warden_triggers", "triggers seen", ["event"], registry=self.registry
        )
        self.latency = Histogram(
            "warden_trigger_to_applied_seconds",
            "from a trigger on the bus to the actuator applying the state it caused",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
            registry=self.registry,
        )
        # (when seen, the desired seq in force then): waiting for a newer applied state.
        self._pending: deque[tuple[float, int]] = deque(maxlen=100)
        self.incidents = Counter(
            "warden_incidents",
            "incidents opened: a protected container's stall, or a buffering stream",
            ["kind", "resource"],
            registry=self.registry,
        )
        self.time_to_action = Histogram(
            "warden_incident_time_to_action_seconds",
            "from the start of an incident to Warden's first limit or pause for it",
            buckets=(0.25, 0.5, 1, 2, 5, 10, 30, 60, 120),
            registry=self.registry,
        )
        self._timed: deque[str] = deque(maxlen=TIMED_KEPT)

    def incidents_known(self, incidents: list[Incident]) -> None:
        """Incidents from before this start: their time to action was observed then."""
        self._timed.extend(i.id for i in incidents if i.time_to_action_seconds is not None)

    def incidents_seen(self, incidents: list[Incident], new: list[str]) -> None:
        """The governor's incidents as it publishes them; `new`: the ids never seen before."""
        for incident in incidents:
            if incident.id in new:
                self.incidents.labels(incident.kind, incident.resource or "unknown").inc()
            took = incident.time_to_action_seconds
            if took is not None and incident.id not in self._timed:
                self._timed.append(incident.id)
                self.time_to_action.observe(took)

    def trigger_seen(self, event: str, desired_seq: int, now: float | None = None) -> None:
        self.triggers.labels(event).inc()
        self._pending.append((now if now is not None else time.monotonic(), desired_seq))

    def applied_seen(self, applied: Applied, now: float | None = None) -> None:
        now = now if now is not None else time.monotonic()
        self.applied.labels(applied.mode).inc()
        if applied.refusals:
            self.refusals.inc(len(applied.refusals))
        keep: deque[tuple[float, int]] = deque(maxlen=100)
        for at, seq in self._pending:
            if now - at > LATENCY_WINDOW_SECONDS:
                continue
            if applied.mode == "desired" and applied.seq is not None and applied.seq > seq:
                self.latency.observe(now - at)
            else:
                keep.append((at, seq))
        self._pending = keep
