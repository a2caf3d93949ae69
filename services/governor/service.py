"""Wiring: facts and triggers in, the retained, leased desired state and events out."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from datetime import tzinfo
from typing import Any

from services.governor import decision_log, memory_store
from services.governor.catalogue import catalogue
from services.governor.incident_feed import IncidentFeed
from services.governor.memory_store import (
    RetainedDesiredPayload,
    decode_retained_desired,
)
from services.governor.outbox import Outbox
from services.governor.outcome import EventDraft, earliest
from services.governor.overrides import apply_overrides
from services.governor.policy import Decision, Facts, Memory, decide
from services.governor.rules.conditions import condition_text
from services.governor.settings import with_settings
from services.governor.triggers import apply_trigger
from shared import channels
from shared.bus import Received
from shared.config import WardenConfig
from shared.messages import (
    ContainerInventory,
    GovernorMemory,
    Message,
    StreamsFact,
    Switches,
    Trigger,
)
from shared.messages.incidents import IncidentLog
from shared.messages.overrides import Override, Overrides
from shared.messages.settings import ResourceSettings
from shared.presets import DEFAULT_PRESET, PresetName, display_name
from shared.runtime import Timer
from shared.service import ServiceContext
from shared.time_zone import zone_of
from shared.topics import ONLINE, SensorKind

# After connecting, how long to wait for our own retained state before deciding afresh.
RESTORE_WAIT_SECONDS = 1.0


class GovernorService:
    # The renewal timer is set once at start.
    restart_only = ("governor.renew_seconds",)

    def __init__(self, ctx: ServiceContext, clock: Callable[[], float] = time.time) -> None:
        self.ctx = ctx
        self.cfg = ctx.config
        self.settings: ResourceSettings | None = None
        self.overrides: list[Override] = []
        self.matcher = self.cfg.tier_matcher()
        self.clock = clock
        self.facts = Facts()
        self.zone: tzinfo = zone_of(self.cfg.governor.timezone)
        self.memory = Memory()
        self.ready = False
        self.outbox = Outbox(ctx)
        # The last decision, renewed by publish_desired.
        self._decision: Decision | None = None
        # What the broker kept for us, gathered until ready (see become_ready).
        self._retained_memory: GovernorMemory | None = None
        self._retained_desired: RetainedDesiredPayload | None = None
        self._wake_timer: Timer | None = None
        self._announced_start = False
        self._pending: list[Callable[[Switches], Switches]] = []
        self._readings: dict[str, str] = {}
        self.incidents = IncidentFeed(
            self.cfg.host_id, lambda log: ctx.bus.send(channels.INCIDENTS, log), self.outbox.event
        )

        bus, loop = ctx.bus, ctx.loop
        # Facts kept with when they were seen (Facts.<kind> and Facts.<kind>_seen_at).
        timed_facts: tuple[SensorKind, ...] = (
            "pressure",
            "resources",
            "thermal",
            "gpu",
            "processes",
        )
        for kind in timed_facts:
            bus.listen(channels.SENSOR_FACTS[kind], self.on_host_fact(kind))
        bus.listen(channels.CONTAINERS, self.on_inventory)
        bus.listen(channels.STREAMS, self.on_streams)
        bus.listen(channels.PRESET_SET, self.on_preset_set)
        bus.listen(channels.SETTINGS, self.on_settings)
        bus.listen(channels.OVERRIDES, self.on_overrides)
        bus.listen(channels.TRIGGER_ALL_HOSTS, self.on_trigger)
        bus.listen(channels.TRIGGER, self.on_trigger)
        # Not the table's decoder: a desired state from before the memory topic must load.
        bus.subscribe(
            channels.DESIRED.topic_for(ctx.topics), decode_retained_desired, self.on_own_desired
        )
        bus.listen(channels.GOVERNOR_MEMORY, self.on_own_memory)
        bus.listen(channels.INCIDENTS, self.on_own_incidents)
        bus.listen(channels.AVAILABILITY, self.on_actuator_availability, service="actuator")
        self._watched_topics: set[str] = set()
        self.watch_condition_topics()
        bus.on_connect(self.on_connect)
        loop.call_every(
            self.cfg.governor.renew_interval, self.renew, first=self.cfg.governor.renew_interval
        )
        loop.on_stop(self.on_stop)

    # --- inputs ----------------------------------------------------------

    def reload(self, config: WardenConfig) -> None:
        """Decide again at once on the new tiers and rules, and say what the rules are now."""
        self.cfg = config
        self.matcher = config.tier_matcher()
        self.zone = zone_of(config.governor.timezone)
        self.watch_condition_topics()
        self.publish_catalogue()
        if self.ready:
            self.evaluate(force=True)

    def on_inventory(self, received: Received[ContainerInventory]) -> None:
        self.facts = replace(self.facts, inventory=received.value)
        self.evaluate()

    def on_streams(self, received: Received[StreamsFact]) -> None:
        fact = received.value
        seen_at = received.seen_at(self.clock())
        if fact.count != self.facts.streams:
            log = self.ctx.log.warning if fact.count is None else self.ctx.log.info
            log("streams.received", count=fact.count, source=fact.source, error=fact.error)
        self.facts = replace(
            self.facts, streams=fact.count, streams_seen_at=seen_at, stream_report=fact
        )
        self.evaluate()

    def watch_condition_topics(self) -> None:
        """Subscribe to every topic a condition reads that is not watched yet (a topic a
        reload drops stays subscribed, and its value is read by no one)."""
        for condition in self.cfg.conditions:
            if condition.mqtt is None or condition.mqtt.topic in self._watched_topics:
                continue
            topic = condition.mqtt.topic
            self._watched_topics.add(topic)
            self.ctx.bus.subscribe(topic, condition_text, self.on_condition_topic)

    def on_condition_topic(self, received: Received[str]) -> None:
        before = self.facts.topic_values.get(received.topic)
        if before != received.value:
            self.ctx.log.info("condition.value", topic=received.topic, value=received.value[:80])
        values = {**self.facts.topic_values, received.topic: received.value}
        self.facts = replace(self.facts, topic_values=values)
        self.evaluate()

    def on_host_fact(self, kind: str) -> Callable[[Received[Message]], None]:
        """Keep the fact (Facts.<kind>) with when it arrived, for staleness."""

        def handle(received: Received[Message]) -> None:
            update: dict[str, Any] = {
                kind: received.value,
                f"{kind}_seen_at": received.seen_at(self.clock()),
            }
            self.facts = replace(self.facts, **update)
            self.evaluate()

        return handle

    def on_preset_set(self, received: Received[PresetName]) -> None:
        was = self.memory.switches.preset
        self.ctx.log.info("preset.received", preset=received.value, was=was)
        self.apply_command(lambda s: s.model_copy(update={"preset": received.value}))
        if self.ready:  # otherwise become_ready publishes it, after the deferred change
            self.publish_preset()

    def on_settings(self, received: Received[ResourceSettings]) -> None:
        self.settings = received.value
        self.cfg = with_settings(self.ctx.config, received.value)
        self.ctx.log.info(
            "settings.applied",
            **received.value.model_dump(exclude={"schema_version", "host", "ts"}),
        )
        self.evaluate()

    def on_overrides(self, received: Received[Overrides]) -> None:
        self.overrides = received.value.items
        self.ctx.log.info(
            "overrides.received",
            overrides="; ".join(
                f"{o.kind}({o.container or 'tier 3'}) until {o.until:.0f}" for o in self.overrides
            )
            or "none",
        )
        self.evaluate()

    def on_trigger(self, received: Received[Trigger]) -> None:
        trigger = received.value
        self.ctx.log.info(
            "trigger.received",
            trigger=trigger.event,
            schedule=trigger.schedule,
            topic=received.topic,
        )
        if trigger.event.startswith("media_") and not self.cfg.media_mode.enabled:
            self.ctx.log.warning(
                "trigger.ignored", trigger=trigger.event, reason="media_mode.enabled is false"
            )
            return
        if trigger.schedule is not None and trigger.schedule not in {
            s.name for s in self.cfg.schedules
        }:
            self.ctx.log.warning(
                "trigger.ignored",
                trigger=trigger.event,
                reason=f"no schedule named {trigger.schedule!r} in the config",
            )
            return
        now = self.clock()
        self.apply_command(lambda s: apply_trigger(s, trigger, now))

    def apply_command(self, change: Callable[[Switches], Switches]) -> None:
        """A trigger or preset flips a switch. Before the governor is ready, the change
        waits: the retained memory it is about to restore would otherwise undo it."""
        if not self.ready:
            self._pending.append(change)
            self.ctx.log.info("command.deferred", reason="restoring the retained state first")
            return
        self._switch(change)
        self.evaluate()

    def _switch(self, change: Callable[[Switches], Switches]) -> None:
        self.memory = replace(self.memory, switches=change(self.memory.switches))

    def on_own_desired(self, received: Received[RetainedDesiredPayload]) -> None:
        """Our own last desired state, kept by the broker: where seq and epoch go on from,
        and, from a governor before the memory topic, the memory to carry over."""
        if self.ready or not received.retained:
            return
        self._retained_desired = received.value
        if self._retained_memory is not None:
            self.become_ready()

    def on_own_memory(self, received: Received[GovernorMemory]) -> None:
        if self.ready or not received.retained:
            return
        self._retained_memory = received.value
        if self._retained_desired is not None:
            self.become_ready()

    def on_own_incidents(self, received: Received[IncidentLog]) -> None:
        # What the last governor published, read back once: its open incidents go on.
        if not self.ready and received.retained:
            self.incidents.restore(received.value)

    def restore(self) -> None:
        """Pick up where the last governor left off (see memory_store.restore)."""
        restored = memory_store.restore(
            self.cfg.host_id,
            self._retained_desired,
            self._retained_memory,
            self.outbox.keyring,
            self.outbox.seq,
            self.outbox.epoch,
        )
        # Before it is ready the governor's memory is the fresh one: nothing is lost.
        self.memory = restored.memory
        self.outbox.seq, self.outbox.epoch = restored.seq, restored.epoch
        for level, event, fields in restored.notes:
            (self.ctx.log.warning if level == "warning" else self.ctx.log.info)(event, **fields)

    def on_actuator_availability(self, received: Received[str]) -> None:
        if received.value == ONLINE and self.ready:
            self.publish_desired(force=True)  # a fresh actuator trusts only live renewals

    def on_connect(self) -> None:
        self.publish_catalogue()
        if self.ready:
            self.publish_desired(force=True)
        else:
            self.ctx.loop.call_later(RESTORE_WAIT_SECONDS, self.become_ready)

    def publish_catalogue(self) -> None:
        self.ctx.bus.send(channels.RULES, catalogue(self.cfg))

    # --- deciding --------------------------------------------------------

    def become_ready(self) -> None:
        if self.ready:
            return
        self.ready = True
        self.restore()
        for change in self._pending:
            self._switch(change)
        self._pending.clear()
        if not self._announced_start:
            self._announced_start = True
            self.outbox.event(EventDraft("daemon_start", "Warden governor started"))
        self.evaluate(force=True)
        self.publish_preset()

    def evaluate(self, force: bool = False) -> None:
        if not self.ready:
            return
        now = self.clock()
        decision = decide(
            self.cfg, self.matcher, self.facts, self.memory, now, self.zone, self.overrides
        )
        decision = apply_overrides(decision, decision.targets, self.overrides, now)
        look_again = self.incidents.see(
            self.cfg, self.matcher, self.facts, self.memory.switches, decision, now
        )
        decision = replace(decision, wake_at=earliest(decision.wake_at, look_again))
        self.log_changes(decision)
        self.memory = decision.memory
        for note in decision.notes:
            log = self.ctx.log.warning if note.level == "warning" else self.ctx.log.info
            log(note.event, **note.fields)
        for restart in decision.actions:
            self.outbox.restart(restart)
        for draft in decision.events:
            self.outbox.event(draft)
        self._schedule_wake(decision)
        self._decision = decision
        if decision.readings != self._readings:
            # Every moving reading and countdown, at debug: the info log is for changes.
            self._readings = decision.readings
            live = "; ".join(f"{k}: {v}" for k, v in sorted(decision.readings.items()))
            self.ctx.log.debug("decision.readings", readings=live)
        self.publish_desired(force=force)

    def _schedule_wake(self, decision: Decision) -> None:
        if self._wake_timer is not None:
            self._wake_timer.cancel()
            self._wake_timer = None
        if decision.wake_at is not None:
            delay = max(0.0, decision.wake_at - self.clock())
            self._wake_timer = self.ctx.loop.call_later(delay, self.evaluate)

    def log_changes(self, decision: Decision) -> None:
        for change in decision_log.changes(self.cfg.host_id, self.outbox.published, decision):
            self.ctx.log.info(change.event, **change.fields)
            if change.last is not None:
                # Retained, so Home Assistant's "last decision" sensor shows it after any restart.
                self.ctx.bus.send(channels.DECISION, change.last)

    # --- outputs ---------------------------------------------------------

    def publish_desired(self, force: bool = False) -> None:
        if self.ready and self._decision is not None:
            lease = self.cfg.governor.lease_seconds
            self.outbox.desired(self._decision, self.memory, lease, force)

    def publish_preset(self) -> None:
        """Retained, for Home Assistant's select: the run-time preset, else the config's."""
        configured = {g.preset for g in self.cfg.process_groups}
        fallback = configured.pop() if len(configured) == 1 else None
        current = self.memory.switches.preset or fallback or DEFAULT_PRESET
        self.ctx.bus.send(channels.PRESET, display_name(current))

    def renew(self) -> None:
        """Renew the lease; also let time-based transitions happen."""
        self.evaluate(force=True)

    def on_stop(self) -> None:
        self.outbox.event(EventDraft("daemon_stop", "Warden governor stopped"))
