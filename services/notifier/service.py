"""Wiring: events from the bus, filtered by notify_on and collapsed in bursts, out to the
configured destinations (through Apprise) and Home Assistant; and Warden as a Home
Assistant device."""

from __future__ import annotations

from typing import Any

from services.notifier.dedup import Debouncer
from services.notifier.destinations import configured
from services.notifier.home_assistant.publisher import HomeAssistantBridge
from services.notifier.outbox import Outbox
from services.notifier.render import Notification, render, repeated
from shared.bus import Received
from shared.channels import EVENTS
from shared.config import WardenConfig
from shared.messages import Event
from shared.service import ServiceContext


class NotifierService:
    # The Home Assistant bridge announces its entities once, from the start config.
    restart_only = ("home_assistant", "notifications.outbox_file")

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self.cfg = ctx.config.notifications
        self.outbox = self._open_outbox()
        self.bursts: Debouncer[tuple[str, str], Notification] = Debouncer(
            self.cfg.dedup_window_seconds
        )
        self._flush_timer: Any = None
        self._flush_at: float | None = None
        self.bridge = HomeAssistantBridge(ctx) if ctx.config.home_assistant.enabled else None
        ctx.bus.listen(EVENTS, self.on_event)
        ctx.loop.on_stop(lambda: self.outbox.close())

    def _open_outbox(self) -> Outbox:
        destinations = configured(self.cfg)
        ha = self.ctx.config.home_assistant
        self.ctx.log.info(
            "notify.destinations",
            destinations=",".join(d.name for d in destinations) or None,
            home_assistant=ha.enabled and ha.notify,
            notify_on=",".join(self.cfg.notify_on) or "all",
        )
        loop = self.ctx.loop
        # Destination threads report through the loop: state here has one owner.
        return Outbox(
            destinations,
            self.cfg,
            self.ctx.log,
            on_failed=lambda name, reason: loop.post(self.destination_failed, name, reason),
            on_recovered=lambda name: loop.post(self.destination_recovered, name),
        )

    def reload(self, config: WardenConfig) -> None:
        """New destinations and filters: the outbox hands what is undelivered to the new one
        through its file."""
        self.outbox.close(timeout=2.0)
        self.cfg = config.notifications
        self.outbox = self._open_outbox()

    def on_event(self, received: Received[Event]) -> None:
        event = received.value
        if self.bridge is not None:
            self.bridge.on_event(event)  # Home Assistant's state follows every event
        if not self.cfg.wants(event.kind):
            self.ctx.log.debug("notify.skipped", event=event.kind, reason="not in notify_on")
            return
        note = render(event)
        if self.bursts.offer((event.kind, event.message), note, self.ctx.loop.now()):
            self.deliver(note)
        else:
            self.ctx.log.debug("notify.collapsed", event=event.kind)
        self._arm_flush()

    def deliver(self, note: Notification) -> None:
        self.outbox.put(note)
        if self.bridge is not None and self.ctx.config.home_assistant.notify:
            self.bridge.notify(note)

    def _arm_flush(self) -> None:
        due = self.bursts.next_due()
        if due is None or due == self._flush_at:
            return
        if self._flush_timer is not None:
            self._flush_timer.cancel()
        self._flush_at = due
        self._flush_timer = self.ctx.loop.call_later(
            max(0.0, due - self.ctx.loop.now()), self.flush
        )

    def flush(self) -> None:
        self._flush_timer = self._flush_at = None
        for note, times in self.bursts.due(self.ctx.loop.now()):
            self.deliver(repeated(note, times, self.bursts.window))
        self._arm_flush()

    def destination_failed(self, name: str, reason: str) -> None:
        # Once per outage: the destination reports again only after it has recovered.
        # Its name and the reason have been redacted (destinations.py).
        self.ctx.log.warning("notify.destination_failed", destination=name, reason=reason)
        event = Event(
            host=self.ctx.config.host_id,
            # The event keeps the name it was published under, and its `channel` detail:
            # notify_on lists and automations name them.
            kind="notifier_channel_failed",
            source="notifier",
            message=f"Notifications to {name} are failing: {reason}",
            severity="warning",
            details={"destination": name, "channel": name, "reason": reason},
        )
        self.ctx.bus.send(EVENTS, event)

    def destination_recovered(self, name: str) -> None:
        self.ctx.log.info("notify.destination_recovered", destination=name)
