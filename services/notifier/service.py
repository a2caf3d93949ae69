"""Wiring: events from the bus, filtered by notify_on, out to the configured channels."""

from __future__ import annotations

from services.notifier.channels import configured_channels
from services.notifier.outbox import Outbox
from services.notifier.render import render
from shared.bus import Received, model_decoder
from shared.messages import Event
from shared.service import ServiceContext


class NotifierService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self.cfg = ctx.config.notifications
        channels = configured_channels(self.cfg)
        ctx.log.info(
            "notify.channels",
            channels=",".join(c.name for c in channels) or None,
            notify_on=",".join(self.cfg.notify_on) or "all",
        )
        self.outbox = Outbox(channels, self.cfg.timeout_seconds, ctx.log)
        ctx.bus.subscribe(ctx.topics.events, model_decoder(Event), self.on_event)
        ctx.loop.on_stop(self.outbox.close)

    def on_event(self, received: Received[Event]) -> None:
        event = received.value
        if not self.cfg.wants(event.kind):
            self.ctx.log.debug("notify.skipped", event=event.kind, reason="not in notify_on")
            return
        self.outbox.put(render(event))
